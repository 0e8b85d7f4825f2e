package workbench.harness;

/**
 * A problem with how the harness was called or with its own files (bad arguments, unreadable
 * input array, unwritable output directory). Reported on stderr, exit code 2.
 */
public class HarnessException extends Exception {
    public HarnessException(String message) {
        super(message);
    }

    public HarnessException(String message, Throwable cause) {
        super(message, cause);
    }
}
