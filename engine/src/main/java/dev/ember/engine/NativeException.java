package dev.ember.engine;

/** libember returned an error status; the message is its last-error text. */
public class NativeException extends EmberException {
    private final int status;

    public NativeException(int status, String operation, String detail) {
        super(operation + " failed (" + statusName(status) + ")" + (detail == null || detail.isBlank() ? "" : ": " + detail));
        this.status = status;
    }

    /** The EMBER_ERROR_* code. */
    public int status() {
        return status;
    }

    private static String statusName(int status) {
        return switch (status) {
            case 1 -> "invalid argument";
            case 2 -> "out of memory";
            case 3 -> "backend error";
            case 4 -> "model error";
            case 5 -> "unsupported";
            case 6 -> "internal error";
            default -> "status " + status;
        };
    }
}
