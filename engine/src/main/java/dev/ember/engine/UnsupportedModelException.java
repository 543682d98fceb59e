package dev.ember.engine;

/** A well-formed model of an architecture Ember does not run (SDXL, for now). */
public class UnsupportedModelException extends EmberException {
    public UnsupportedModelException(String message) {
        super(message);
    }
}
