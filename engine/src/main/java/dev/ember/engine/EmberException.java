package dev.ember.engine;

/**
 * The root of Ember's exceptions. Each subclass names one kind of failure so that callers (and
 * the CLI's exit codes) can tell bad input from a broken model file from a native failure.
 */
public class EmberException extends RuntimeException {
    public EmberException(String message) {
        super(message);
    }

    public EmberException(String message, Throwable cause) {
        super(message, cause);
    }
}
