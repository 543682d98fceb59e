package dev.ember.server;

/**
 * A request the server answers with a 4xx (or a failed job's 5xx) and a one-line reason. The message names the
 * field when one is at fault ({@code "width: must be a multiple of 8, got 100"}); each API renders it in its
 * own error shape (A1111's {@code {"detail": ...}}, OpenAI's {@code {"error": {...}}}).
 */
public class ApiException extends RuntimeException {
    private final int status;
    private final String field;

    public ApiException(int status, String field, String message) {
        super(field == null ? message : field + ": " + message);
        this.status = status;
        this.field = field;
    }

    /** 422: the request is well-formed HTTP but a value is not acceptable. */
    public static ApiException invalid(String field, String message) {
        return new ApiException(422, field, message);
    }

    public int status() {
        return status;
    }

    /** The request field at fault, or null. */
    public String field() {
        return field;
    }
}
