package dev.ember.engine;

/** A generation stopped because its listener asked to, or threw (then this is the cause's carrier). */
public class GenerationCancelledException extends EmberException {
    public GenerationCancelledException(String message) {
        super(message);
    }

    public GenerationCancelledException(String message, Throwable cause) {
        super(message, cause);
    }
}
