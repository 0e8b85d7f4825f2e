package workbench.harness;

import java.io.File;
import java.util.LinkedHashMap;
import java.util.Map;

/** One unit of work: a model, named input arrays and an output directory. */
public final class Job {
    public static final String RUN = "run";
    public static final String KERAS_IMPORT = "keras-import";

    public final String mode;
    public final File model;
    /** Input name to array file (.npy or Nd4j binary .bin), in the order given. */
    public final Map<String, File> inputs;
    public final File out;

    public Job(String mode, File model, Map<String, File> inputs, File out) {
        this.mode = mode;
        this.model = model;
        this.inputs = new LinkedHashMap<>(inputs);
        this.out = out;
    }

    /** Checks the fields a job needs before anything is loaded. */
    public void validate() throws HarnessException {
        if (!RUN.equals(mode) && !KERAS_IMPORT.equals(mode)) {
            throw new HarnessException("unknown job mode '" + mode + "' (expected run or keras-import)");
        }
        if (model == null) {
            throw new HarnessException(mode + ": --model is required");
        }
        if (!model.isFile()) {
            throw new HarnessException(mode + ": model file not found: " + model);
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
