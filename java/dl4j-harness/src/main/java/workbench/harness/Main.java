package workbench.harness;

import java.io.File;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.shade.jackson.databind.JsonNode;

/**
 * Command-line entry of the DL4J harness.
 *
 * <pre>
 * run          --model ZIP --input NAME=FILE [--input ...] --out DIR
 * keras-import --model H5  --input NAME=FILE [--input ...] --out DIR
 * run-source   --class NAME [--classes DIR|JAR] --params DIR --input NAME=FILE [--input ...] --out DIR
 *              (NAME.build(Path DIR) from generated Java source; without --classes NAME is on -cp)
 * jobs         --file JOBS.json      (list of {"mode","model","inputs":{name:path},"out"}; run-source
 *                                    jobs: "model" is the param folder, plus "class" and "classes")
 * resave       --model ZIP --out ZIP (re-write a zip with this DL4J's ModelSerializer)
 * convert      --in FILE --out FILE [--dtype FLOAT|DOUBLE|HALF]  (.npy &lt;-&gt; Nd4j binary)
 * </pre>
 *
 * Every run also writes DIR/configuration.json (the network's configuration as this DL4J serializes it).
 *
 * Exit codes: 0 done (in jobs mode: every job was attempted, failures are in their error.json),
 * 2 bad arguments / unreadable files / ND4J did not start (one line on stderr),
 * 3 DL4J could not load, import, build or run the model (details in DIR/error.json).
 */
public final class Main {
    static final int EXIT_OK = 0;
    static final int EXIT_HARNESS = 2;
    static final int EXIT_DL4J = 3;

    private Main() {
    }

    public static void main(String[] args) {
        int code;
        try {
            code = dispatch(args);
        } catch (HarnessException e) {
            System.err.println("dl4j-harness: " + oneLine(e.getMessage()));
            code = EXIT_HARNESS;
        } catch (Throwable t) {
            System.err.println("dl4j-harness: internal error: " + oneLine(t.toString()));
            code = EXIT_HARNESS;
        }
        System.out.flush();
        System.err.flush();
        // ND4J leaves non-daemon threads behind; exit explicitly.
        System.exit(code);
    }

    static int dispatch(String[] args) throws HarnessException {
        if (args.length == 0) {
            throw new HarnessException("usage: (run|keras-import) --model FILE --input NAME=FILE ... --out DIR"
                    + " | run-source --class NAME [--classes DIR] --params DIR --input NAME=FILE ... --out DIR"
                    + " | jobs --file JOBS.json | resave --model ZIP --out ZIP | convert --in FILE --out FILE");
        }
        String mode = args[0];
        Map<String, List<String>> opts = parseOptions(args);
        switch (mode) {
            case Job.RUN:
            case Job.KERAS_IMPORT:
            case Job.RUN_SOURCE:
                return runSingle(mode, opts);
            case "jobs":
                return runJobs(new File(single(opts, "--file", true)));
            case "resave":
                startNd4j();
                try {
                    Runner.resave(new File(single(opts, "--model", true)), new File(single(opts, "--out", true)));
                } catch (Dl4jFailure f) {
                    Throwable c = f.getCause();
                    System.err.println("dl4j-harness: DL4J could not load the model: " + c.getClass().getName()
                            + ": " + oneLine(String.valueOf(c.getMessage())));
                    return EXIT_DL4J;
                }
                return EXIT_OK;
            case "convert":
                startNd4j();
                Runner.convert(new File(single(opts, "--in", true)), new File(single(opts, "--out", true)),
                        single(opts, "--dtype", false));
                return EXIT_OK;
            default:
                throw new HarnessException("unknown mode '" + mode
                        + "' (expected run, keras-import, run-source, jobs, resave, convert)");
        }
    }

    private static int runSingle(String mode, Map<String, List<String>> opts) throws HarnessException {
        Map<String, File> inputs = new LinkedHashMap<>();
        for (String spec : opts.getOrDefault("--input", new ArrayList<>())) {
            int eq = spec.indexOf('=');
            if (eq <= 0 || eq == spec.length() - 1) {
                throw new HarnessException("--input expects NAME=FILE, got '" + spec + "'");
            }
            String name = spec.substring(0, eq);
            if (inputs.put(name, new File(spec.substring(eq + 1))) != null) {
                throw new HarnessException("input '" + name + "' given twice");
            }
        }
        File out = new File(single(opts, "--out", true));
        Job job;
        if (Job.RUN_SOURCE.equals(mode)) {
            String classes = single(opts, "--classes", false);
            job = new Job(mode, new File(single(opts, "--params", true)), inputs, out, single(opts, "--class", true),
                    classes == null ? null : new File(classes));
        } else {
            job = new Job(mode, new File(single(opts, "--model", true)), inputs, out);
        }
        job.validate();
        startNd4j();
        long t0 = System.nanoTime();
        try {
            Runner.run(job);
            return EXIT_OK;
        } catch (Dl4jFailure f) {
            Runner.writeError(out, f.getStage(), f, (System.nanoTime() - t0) / 1e9);
            Throwable c = f.getCause();
            System.err.println("dl4j-harness: DL4J failed (" + f.getStage() + "): " + c.getClass().getName() + ": "
                    + oneLine(String.valueOf(c.getMessage())));
            return EXIT_DL4J;
        }
    }

    /** Runs every job of a JSON list in this JVM; a failing job does not stop the others. */
    private static int runJobs(File file) throws HarnessException {
        JsonNode root;
        try {
            root = Runner.JSON.readTree(file);
        } catch (Exception e) {
            throw new HarnessException("cannot read jobs file " + file + ": " + e, e);
        }
        if (root == null || !root.isArray()) {
            throw new HarnessException("jobs file " + file + " must hold a JSON list");
        }
        startNd4j();
        int code = EXIT_OK;
        int index = 0;
        for (JsonNode node : root) {
            File out = node.hasNonNull("out") ? new File(node.get("out").asText()) : null;
            long t0 = System.nanoTime();
            try {
                Runner.run(parseJob(node, index));
            } catch (Dl4jFailure f) {
                Runner.writeError(out, f.getStage(), f, (System.nanoTime() - t0) / 1e9);
            } catch (HarnessException e) {
                if (out == null) {
                    System.err.println("dl4j-harness: job " + index + ": " + oneLine(e.getMessage()));
                    code = EXIT_HARNESS;
                } else {
                    Runner.writeError(out, "harness", e, (System.nanoTime() - t0) / 1e9);
                }
            } catch (Throwable t) {
                Runner.writeError(out, "harness", t, (System.nanoTime() - t0) / 1e9);
            } finally {
                resetWorkspaces();
            }
            index++;
        }
        return code;
    }

    private static Job parseJob(JsonNode node, int index) throws HarnessException {
        if (!node.isObject()) {
            throw new HarnessException("job " + index + " is not a JSON object");
        }
        Map<String, File> inputs = new LinkedHashMap<>();
        JsonNode in = node.path("inputs");
        if (in.isObject()) {
            Iterator<Map.Entry<String, JsonNode>> it = in.fields();
            while (it.hasNext()) {
                Map.Entry<String, JsonNode> e = it.next();
                inputs.put(e.getKey(), new File(e.getValue().asText()));
            }
        } else if (!in.isMissingNode()) {
            throw new HarnessException("job " + index + ": \"inputs\" must be an object {name: path}");
        }
        String model = node.hasNonNull("model") ? node.get("model").asText() : null;
        String className = node.hasNonNull("class") ? node.get("class").asText() : null;
        String classes = node.hasNonNull("classes") ? node.get("classes").asText() : null;
        return new Job(node.path("mode").asText(""), model == null ? null : new File(model), inputs,
                new File(node.path("out").asText()), className, classes == null ? null : new File(classes));
    }

    /**
     * Drops every ND4J workspace of this thread. A DL4J exception in the middle of a forward pass can
     * leave a workspace open, and every later pass in the same JVM then fails with ND4JWorkspaceException.
     */
    static void resetWorkspaces() {
        try {
            Nd4j.getWorkspaceManager().destroyAllWorkspacesForCurrentThread();
        } catch (Throwable t) {
            System.err.println("dl4j-harness: could not reset ND4J workspaces: " + oneLine(t.toString()));
        }
    }

    /** Initialises the ND4J backend once; returns the seconds it took. */
    static double startNd4j() throws HarnessException {
        long t0 = System.nanoTime();
        try {
            Nd4j.create(1).addi(1);
        } catch (Throwable t) {
            throw new HarnessException("the ND4J native backend did not start: " + oneLine(t.toString()), t);
        }
        return (System.nanoTime() - t0) / 1e9;
    }

    private static Map<String, List<String>> parseOptions(String[] args) throws HarnessException {
        Map<String, List<String>> opts = new LinkedHashMap<>();
        for (int i = 1; i < args.length; i++) {
            String key = args[i];
            if (!key.startsWith("--")) {
                throw new HarnessException("unexpected argument '" + key + "'");
            }
            if (i + 1 >= args.length) {
                throw new HarnessException(key + " needs a value");
            }
            opts.computeIfAbsent(key, k -> new ArrayList<>()).add(args[++i]);
        }
        return opts;
    }

    private static String single(Map<String, List<String>> opts, String key, boolean required)
            throws HarnessException {
        List<String> values = opts.get(key);
        if (values == null || values.isEmpty()) {
            if (required) {
                throw new HarnessException(key + " is required");
            }
            return null;
        }
        if (values.size() > 1) {
            throw new HarnessException(key + " given more than once");
        }
        return values.get(0);
    }

    static String oneLine(String s) {
        return s == null ? "" : s.replaceAll("\\s*[\\r\\n]+\\s*", " | ").trim();
    }
}
