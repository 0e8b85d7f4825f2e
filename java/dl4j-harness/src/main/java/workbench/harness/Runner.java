package workbench.harness;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.File;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.reflect.Method;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

import org.deeplearning4j.nn.api.FwdPassType;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.graph.vertex.GraphVertex;
import org.deeplearning4j.nn.modelimport.keras.Hdf5Archive;
import org.deeplearning4j.nn.modelimport.keras.KerasModelImport;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.nd4j.linalg.api.buffer.DataBuffer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.shade.jackson.databind.JsonNode;
import org.nd4j.shade.jackson.databind.ObjectMapper;
import org.nd4j.shade.jackson.databind.SerializationFeature;
import org.nd4j.shade.jackson.databind.node.ArrayNode;
import org.nd4j.shade.jackson.databind.node.ObjectNode;

/** Loads or imports a network, runs its inference forward pass and dumps every activation. */
public final class Runner {
    static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    public static final String OUTPUTS_JSON = "outputs.json";
    public static final String ERROR_JSON = "error.json";
    public static final String RUN_JSON = "run.json";
    /** The network's configuration JSON as this DL4J writes it (every mode). */
    public static final String CONFIGURATION_JSON = "configuration.json";

    private static final byte[] NPY_MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};

    private Runner() {
    }

    /** A loaded network: exactly one of {@code mln} / {@code graph} is set. */
    static final class Net {
        final MultiLayerNetwork mln;
        final ComputationGraph graph;

        Net(MultiLayerNetwork mln, ComputationGraph graph) {
            this.mln = mln;
            this.graph = graph;
        }

        String kind() {
            return mln != null ? "MultiLayerNetwork" : "ComputationGraph";
        }

        Model model() {
            return mln != null ? mln : graph;
        }

        DataType dataType() {
            INDArray p = model().params();
            if (p != null) {
                return p.dataType();
            }
            return mln != null ? mln.getLayerWiseConfigurations().getDataType() : graph.getConfiguration().getDataType();
        }
    }

    /** One activation to write. */
    private static final class Activation {
        final String name;
        final INDArray array;
        /** Taken from a shorter pass because the full pass shared (and may have overwritten) its buffer. */
        final boolean recomputed;

        Activation(String name, INDArray array, boolean recomputed) {
            this.name = name;
            this.array = array;
            this.recomputed = recomputed;
        }
    }

    /**
     * Runs one job: writes the activations, {@code outputs.json} and {@code run.json} to {@code job.out}.
     *
     * @throws HarnessException the job is malformed or its files cannot be read/written
     * @throws Dl4jFailure      DL4J could not load/import the model or run it
     */
    public static void run(Job job) throws HarnessException, Dl4jFailure {
        long t0 = System.nanoTime();
        job.validate();
        prepareOutDir(job.out);
        Net net;
        if (Job.KERAS_IMPORT.equals(job.mode)) {
            net = importKeras(job.model);
        } else if (Job.RUN_SOURCE.equals(job.mode)) {
            net = SourceModel.build(job);
        } else {
            net = restore(job.model);
        }
        long t1 = System.nanoTime();
        INDArray[] inputs = readInputs(job, net);
        List<Activation> acts = forward(net, inputs);
        long t2 = System.nanoTime();
        writeActivations(job.out, acts);
        writeConfiguration(job.out, net);
        ObjectNode info = JSON.createObjectNode();
        info.put("status", "ok");
        info.put("mode", job.mode);
        info.put("model", job.model.getPath());
        if (job.className != null) {
            info.put("class", job.className);
        }
        info.put("kind", net.kind());
        info.put("dataType", net.dataType().name());
        info.put("seconds", (System.nanoTime() - t0) / 1e9);
        info.put("loadSeconds", (t1 - t0) / 1e9);
        info.put("forwardSeconds", (t2 - t1) / 1e9);
        info.put("writeSeconds", (System.nanoTime() - t2) / 1e9);
        writeJson(new File(job.out, RUN_JSON), info);
    }

    // ----------------------------------------------------------------------------- loading

    /** Reads {@code configuration.json} from the zip to tell MultiLayerNetwork from ComputationGraph. */
    static boolean isComputationGraphZip(File zip) {
        try (ZipFile zf = new ZipFile(zip)) {
            ZipEntry e = zf.getEntry("configuration.json");
            if (e == null) {
                return false;
            }
            try (InputStream in = zf.getInputStream(e)) {
                JsonNode root = JSON.readTree(in);
                return root != null && root.has("vertices") && !root.has("confs");
            }
        } catch (IOException | RuntimeException ex) {
            // Not a readable zip / JSON: let ModelSerializer report the problem in its own words.
            return false;
        }
    }

    /** Restores a ModelSerializer zip (no updater). */
    static Net restore(File zip) throws Dl4jFailure {
        boolean graph = isComputationGraphZip(zip);
        try {
            if (graph) {
                return new Net(null, ModelSerializer.restoreComputationGraph(zip, false));
            }
            return new Net(ModelSerializer.restoreMultiLayerNetwork(zip, false), null);
        } catch (Throwable t) {
            throw new Dl4jFailure("load", t);
        }
    }

    /** True when the HDF5 file's {@code model_config} has {@code "class_name": "Sequential"}. */
    static boolean isSequentialH5(File h5) throws Exception {
        Hdf5Archive archive = new Hdf5Archive(h5.getPath());
        try {
            if (!archive.hasAttribute("model_config")) {
                return false;
            }
            JsonNode cfg = JSON.readTree(archive.readAttributeAsJson("model_config"));
            return cfg != null && "Sequential".equals(cfg.path("class_name").asText());
        } finally {
            archive.close();
        }
    }

    /** Imports a Keras HDF5 model with DL4J's KerasModelImport (enforceTrainingConfig=false). */
    static Net importKeras(File h5) throws Dl4jFailure {
        try {
            if (isSequentialH5(h5)) {
                return new Net(KerasModelImport.importKerasSequentialModelAndWeights(h5.getPath(), false), null);
            }
            return new Net(null, KerasModelImport.importKerasModelAndWeights(h5.getPath(), false));
        } catch (Throwable t) {
            throw new Dl4jFailure("import", t);
        }
    }

    // ----------------------------------------------------------------------------- arrays

    /** Reads a .npy file (by magic number) or an Nd4j.write binary array. */
    static INDArray readArray(File f) throws HarnessException {
        byte[] head = new byte[NPY_MAGIC.length];
        try (InputStream in = new FileInputStream(f)) {
            int n = in.readNBytes(head, 0, head.length);
            boolean npy = n == head.length && Arrays.equals(head, NPY_MAGIC);
            if (npy) {
                return Nd4j.createFromNpyFile(f);
            }
        } catch (IOException | RuntimeException e) {
            throw new HarnessException("cannot read array " + f + ": " + e, e);
        }
        try (DataInputStream dis = new DataInputStream(new BufferedInputStream(new FileInputStream(f)))) {
            return Nd4j.read(dis);
        } catch (IOException | RuntimeException e) {
            throw new HarnessException("cannot read Nd4j binary array " + f + ": " + e, e);
        }
    }

    private static INDArray[] readInputs(Job job, Net net) throws HarnessException {
        DataType dt = net.dataType();
        List<String> names = new ArrayList<>(job.inputs.keySet());
        List<File> files = new ArrayList<>();
        if (net.mln != null) {
            if (job.inputs.size() != 1) {
                throw new HarnessException("a MultiLayerNetwork takes exactly one input, got " + names);
            }
            files.add(job.inputs.values().iterator().next());
        } else {
            List<String> expected = net.graph.getConfiguration().getNetworkInputs();
            if (expected.size() == 1 && job.inputs.size() == 1) {
                files.add(job.inputs.values().iterator().next());
            } else {
                if (!new LinkedHashSet<>(expected).equals(new LinkedHashSet<>(names))) {
                    throw new HarnessException("graph inputs are " + expected + ", got " + names);
                }
                for (String name : expected) {
                    files.add(job.inputs.get(name));
                }
            }
        }
        INDArray[] out = new INDArray[files.size()];
        for (int i = 0; i < out.length; i++) {
            INDArray a = readArray(files.get(i));
            out[i] = a.dataType() == dt ? a : a.castTo(dt);
        }
        return out;
    }

    // ----------------------------------------------------------------------------- forward pass

    /**
     * Runs {@code feedForward(input, train=false)} and returns every activation in forward order.
     *
     * <p>DL4J reuses buffers in inference: an ActivationLayer applies its function to its input array in
     * place, so the activation before it (or the network input) comes back overwritten, and dropout returns
     * its input array as is. Every activation whose buffer is shared with another one is therefore taken
     * again from a pass that stops at that layer/vertex (nothing after it runs), and marked "recomputed".
     */
    private static List<Activation> forward(Net net, INDArray[] inputs) throws Dl4jFailure {
        List<Activation> result = new ArrayList<>();
        try {
            if (net.mln != null) {
                MultiLayerConfiguration conf = net.mln.getLayerWiseConfigurations();
                List<INDArray> acts = net.mln.feedForward(inputs[0].dup(), false);
                boolean[] shared = sharedBuffers(acts);
                for (int i = 0; i < acts.size(); i++) {
                    String name;
                    if (i == 0) {
                        name = "input";
                    } else {
                        String layerName = conf.getConf(i - 1).getLayer().getLayerName();
                        name = layerName != null ? layerName : String.valueOf(i - 1);
                    }
                    INDArray value = acts.get(i);
                    if (shared[i]) {
                        value = i == 0 ? inputs[0]
                                : net.mln.feedForwardToLayer(i - 1, inputs[0].dup(), false).get(i).dup();
                    }
                    result.add(new Activation(name, value, shared[i]));
                }
            } else {
                ComputationGraph graph = net.graph;
                List<String> networkInputs = graph.getConfiguration().getNetworkInputs();
                Map<String, INDArray> acts = graph.feedForward(dupAll(inputs), false);
                Set<String> order = new LinkedHashSet<>(networkInputs);
                GraphVertex[] vertices = graph.getVertices();
                for (int idx : graph.topologicalSortOrder()) {
                    order.add(vertices[idx].getVertexName());
                }
                order.addAll(acts.keySet());
                List<String> names = new ArrayList<>();
                List<INDArray> arrays = new ArrayList<>();
                for (String name : order) {
                    if (acts.containsKey(name)) {
                        names.add(name);
                        arrays.add(acts.get(name));
                    }
                }
                boolean[] shared = sharedBuffers(arrays);
                int[] topo = graph.topologicalSortOrder();
                for (int i = 0; i < names.size(); i++) {
                    String name = names.get(i);
                    INDArray value = arrays.get(i);
                    if (shared[i]) {
                        int inputIndex = networkInputs.indexOf(name);
                        value = inputIndex >= 0 ? inputs[inputIndex] : graphActivationUpTo(graph, topo, name, inputs);
                    }
                    result.add(new Activation(name, value, shared[i]));
                }
            }
        } catch (Throwable t) {
            Throwable cause = t instanceof java.lang.reflect.InvocationTargetException && t.getCause() != null
                    ? t.getCause() : t;
            throw new Dl4jFailure("feedForward", cause);
        }
        return result;
    }

    /**
     * The activation of one vertex from a pass that stops at it. Uses DL4J's own (protected)
     * {@code ffToLayerActivationsDetached}, whose layer index is a position in the topological order;
     * the public {@code feedForward(boolean, int)} passes a vertex index there instead, and
     * {@code output(List, ...)} fails with a workspace error for inner vertices in M2.1.
     */
    private static INDArray graphActivationUpTo(ComputationGraph graph, int[] topo, String name, INDArray[] inputs)
            throws ReflectiveOperationException {
        int vertexIndex = graph.getVertex(name).getVertexIndex();
        int position = -1;
        for (int p = 0; p < topo.length; p++) {
            if (topo[p] == vertexIndex) {
                position = p;
            }
        }
        Method ff = ComputationGraph.class.getDeclaredMethod("ffToLayerActivationsDetached", boolean.class,
                FwdPassType.class, boolean.class, int.class, int[].class, INDArray[].class, INDArray[].class,
                INDArray[].class, boolean.class);
        ff.setAccessible(true);
        @SuppressWarnings("unchecked")
        Map<String, INDArray> acts = (Map<String, INDArray>) ff.invoke(graph, false, FwdPassType.STANDARD, false,
                position, null, dupAll(inputs), null, null, true);
        return acts.get(name).dup();
    }

    private static INDArray[] dupAll(INDArray[] arrays) {
        INDArray[] out = new INDArray[arrays.length];
        for (int i = 0; i < arrays.length; i++) {
            out[i] = arrays[i].dup();
        }
        return out;
    }

    /** For each array: does its data buffer overlap the buffer of any other array in the list? */
    static boolean[] sharedBuffers(List<INDArray> arrays) {
        int n = arrays.size();
        long[][] spans = new long[n][];
        for (int i = 0; i < n; i++) {
            INDArray a = arrays.get(i);
            DataBuffer d = a == null || a.isEmpty() ? null : a.data();
            if (d != null) {
                long start = d.address();
                spans[i] = new long[] {start, start + d.length() * d.getElementSize()};
            }
        }
        boolean[] shared = new boolean[n];
        for (int i = 0; i < n; i++) {
            for (int j = i + 1; j < n; j++) {
                if (spans[i] != null && spans[j] != null && spans[i][0] < spans[j][1] && spans[j][0] < spans[i][1]) {
                    shared[i] = true;
                    shared[j] = true;
                }
            }
        }
        return shared;
    }

    // ----------------------------------------------------------------------------- output

    /** File-name-safe version of a layer or vertex name (the verbatim name goes to outputs.json). */
    static String sanitize(String name) {
        String s = name.replaceAll("[^A-Za-z0-9._-]", "_");
        if (s.length() > 80) {
            s = s.substring(0, 80);
        }
        return s.isEmpty() ? "_" : s;
    }

    private static void prepareOutDir(File dir) throws HarnessException {
        if (!dir.isDirectory() && !dir.mkdirs()) {
            throw new HarnessException("cannot create output directory " + dir);
        }
        for (String stale : new String[] {OUTPUTS_JSON, ERROR_JSON, RUN_JSON, CONFIGURATION_JSON}) {
            File f = new File(dir, stale);
            if (f.exists() && !f.delete()) {
                throw new HarnessException("cannot remove stale " + f);
            }
        }
    }

    private static void writeActivations(File dir, List<Activation> acts) throws HarnessException {
        ArrayNode list = JSON.createArrayNode();
        for (int i = 0; i < acts.size(); i++) {
            Activation a = acts.get(i);
            ObjectNode entry = list.addObject();
            entry.put("name", a.name);
            entry.put("index", i);
            if (a.array == null) {
                entry.putNull("file");
                entry.putNull("shape");
                continue;
            }
            String fileName = String.format("%03d_%s.npy", i, sanitize(a.name));
            File target = new File(dir, fileName);
            try {
                INDArray arr = a.array.dup('c');
                writeAtomically(target, os -> Nd4j.writeAsNumpy(arr, os));
            } catch (IOException | RuntimeException e) {
                throw new HarnessException("cannot write activation '" + a.name + "' to " + target + ": " + e, e);
            }
            entry.put("file", fileName);
            ArrayNode shape = entry.putArray("shape");
            for (long d : a.array.shape()) {
                shape.add(d);
            }
            entry.put("dtype", a.array.dataType().name());
            entry.put("recomputed", a.recomputed);
        }
        writeJson(new File(dir, OUTPUTS_JSON), list);
    }

    /** Writes the network's configuration as DL4J serializes it (best effort: a failure writes nothing). */
    private static void writeConfiguration(File dir, Net net) {
        try {
            String json = net.mln != null ? net.mln.getLayerWiseConfigurations().toJson()
                    : net.graph.getConfiguration().toJson();
            byte[] bytes = json.getBytes(java.nio.charset.StandardCharsets.UTF_8);
            writeAtomically(new File(dir, CONFIGURATION_JSON), os -> os.write(bytes));
        } catch (IOException | RuntimeException e) {
            System.err.println("dl4j-harness: could not write " + CONFIGURATION_JSON + ": " + Main.oneLine(e.toString()));
        }
    }

    /** Writes error.json for a failed job; never throws (best effort). */
    static void writeError(File dir, String stage, Throwable t, double seconds) {
        if (dir == null) {
            return;
        }
        ObjectNode err = JSON.createObjectNode();
        Throwable cause = t instanceof Dl4jFailure && t.getCause() != null ? t.getCause() : t;
        err.put("status", "error");
        err.put("stage", stage);
        err.put("exception", cause.getClass().getName());
        err.put("message", cause.getMessage() != null ? cause.getMessage() : cause.toString());
        ArrayNode causes = err.putArray("causes");
        Set<Throwable> seen = new LinkedHashSet<>();
        for (Throwable c = cause.getCause(); c != null && seen.add(c); c = c.getCause()) {
            ObjectNode n = causes.addObject();
            n.put("exception", c.getClass().getName());
            n.put("message", c.getMessage());
        }
        err.put("seconds", seconds);
        try {
            if (!dir.isDirectory()) {
                dir.mkdirs();
            }
            writeJson(new File(dir, ERROR_JSON), err);
        } catch (HarnessException e) {
            System.err.println("cannot write " + new File(dir, ERROR_JSON) + ": " + e.getMessage());
        }
    }

    static void writeJson(File target, JsonNode node) throws HarnessException {
        try {
            writeAtomically(target, os -> JSON.writeValue(os, node));
        } catch (IOException | RuntimeException e) {
            throw new HarnessException("cannot write " + target + ": " + e, e);
        }
    }

    /** Something that writes a whole file's content to a stream. */
    interface StreamWriter {
        void write(OutputStream os) throws IOException;
    }

    /** Writes to a temporary file in the same directory, then renames it over the target. */
    static void writeAtomically(File target, StreamWriter writer) throws IOException {
        File dir = target.getAbsoluteFile().getParentFile();
        File tmp = File.createTempFile("." + target.getName() + ".", ".tmp", dir);
        boolean done = false;
        try {
            try (OutputStream os = new BufferedOutputStream(new FileOutputStream(tmp))) {
                writer.write(new NonClosingOutputStream(os));
            }
            try {
                Files.move(tmp.toPath(), target.toPath(), StandardCopyOption.ATOMIC_MOVE,
                        StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp.toPath(), target.toPath(), StandardCopyOption.REPLACE_EXISTING);
            }
            done = true;
        } finally {
            if (!done) {
                Files.deleteIfExists(tmp.toPath());
            }
        }
    }

    /** Lets library writers "close" a stream we still own. */
    private static final class NonClosingOutputStream extends java.io.FilterOutputStream {
        NonClosingOutputStream(OutputStream out) {
            super(out);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
        }

        @Override
        public void close() throws IOException {
            flush();
        }
    }

    // ----------------------------------------------------------------------------- tools

    /** Re-saves a zip with this DL4J's ModelSerializer (shows what M2.1 itself writes). */
    static void resave(File zip, File out) throws HarnessException, Dl4jFailure {
        Net net = restore(zip);
        try {
            writeAtomically(out, os -> ModelSerializer.writeModel(net.model(), os, false));
        } catch (IOException | RuntimeException e) {
            throw new HarnessException("cannot write " + out + ": " + e, e);
        }
    }

    /** Converts between .npy and Nd4j binary (by output extension), optionally casting. */
    static void convert(File in, File out, String dtype) throws HarnessException {
        INDArray arr = readArray(in);
        if (dtype != null) {
            arr = arr.castTo(DataType.valueOf(dtype));
        }
        INDArray a = arr;
        try {
            if (out.getName().toLowerCase().endsWith(".npy")) {
                writeAtomically(out, os -> Nd4j.writeAsNumpy(a.dup('c'), os));
            } else {
                writeAtomically(out, os -> {
                    DataOutputStream dos = new DataOutputStream(os);
                    Nd4j.write(a, dos);
                    dos.flush();
                });
            }
        } catch (IOException | RuntimeException e) {
            throw new HarnessException("cannot write " + out + ": " + e, e);
        }
    }
}
