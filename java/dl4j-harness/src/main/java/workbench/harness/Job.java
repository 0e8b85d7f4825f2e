package workbench.harness;

import java.io.File;
import java.util.LinkedHashMap;
import java.util.Map;

/** One unit of work: a model, named input arrays and an output directory. */
public final class Job {
    public static final String RUN = "run";
    public static final String KERAS_IMPORT = "keras-import";
    /** Build a network with a generated class's {@code build(Path paramDir)}; {@code model} is the param folder. */
    public static final String RUN_SOURCE = "run-source";

    public final String mode;
    /** The zip / .h5 file, or for run-source the parameter folder. */
    public final File model;
    /** Input name to array file (.npy or Nd4j binary .bin), in the order given. */
    public final Map<String, File> inputs;
    public final File out;
    /** run-source: the generated class's fully qualified name. */
    public final String className;
    /** run-source: a class folder or jar to load it from (null: the harness class path). */
    public final File classes;

    public Job(String mode, File model, Map<String, File> inputs, File out) {
        this(mode, model, inputs, out, null, null);
    }

    public Job(String mode, File model, Map<String, File> inputs, File out, String className, File classes) {
        this.mode = mode;
        this.model = model;
        this.inputs = new LinkedHashMap<>(inputs);
        this.out = out;
        this.className = className;
        this.classes = classes;
    }

    /** Checks the fields a job needs before anything is loaded. */
    public void validate() throws HarnessException {
        if (!RUN.equals(mode) && !KERAS_IMPORT.equals(mode) && !RUN_SOURCE.equals(mode)) {
            throw new HarnessException("unknown job mode '" + mode + "' (expected run, keras-import or run-source)");
        }
        if (RUN_SOURCE.equals(mode)) {
            if (className == null || className.isEmpty()) {
                throw new HarnessException(mode + ": --class is required");
            }
            if (model == null || !model.isDirectory()) {
                throw new HarnessException(mode + ": parameter folder not found: " + model);
            }
            if (classes != null && !classes.exists()) {
                throw new HarnessException(mode + ": classes not found: " + classes);
            }
        } else {
            if (model == null) {
                throw new HarnessException(mode + ": --model is required");
            }
            if (!model.isFile()) {
                throw new HarnessException(mode + ": model file not found: " + model);
            }
        }
        if (out == null) {
            throw new HarnessException(mode + ": --out is required");
        }
        if (inputs.isEmpty()) {
            throw new HarnessException(mode + ": at least one --input NAME=FILE is required");
        }
        for (Map.Entry<String, File> e : inputs.entrySet()) {
            if (!e.getValue().isFile()) {
                throw new HarnessException(mode + ": input '" + e.getKey() + "' file not found: " + e.getValue());
            }
        }
    }
}
