package workbench.harness;

/**
 * DL4J itself refused: restoring the zip, importing the Keras file or running the forward pass threw.
 * Written to {@code error.json} in the job's output directory, exit code 3.
 */
public class Dl4jFailure extends Exception {
    /** Where it failed: "load", "import" or "feedForward". */
    private final String stage;

    public Dl4jFailure(String stage, Throwable cause) {
        super(cause.getMessage(), cause);
        this.stage = stage;
    }

    public String getStage() {
        return stage;
    }
}
