package dev.ember.engine;

import java.nio.file.Path;

/** A model file or folder that is missing, unreadable, corrupt, truncated or inconsistent. */
public class ModelFileException extends EmberException {
    private final Path path;

    public ModelFileException(Path path, String message) {
        super(path + ": " + message);
        this.path = path;
    }

    public ModelFileException(Path path, String message, Throwable cause) {
        super(path + ": " + message, cause);
        this.path = path;
    }

    /** The file or folder concerned. */
    public Path path() {
        return path;
    }
}
