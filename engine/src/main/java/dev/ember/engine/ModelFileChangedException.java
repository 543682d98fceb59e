package dev.ember.engine;

import java.nio.file.Path;

/**
 * The model's file (or a file of its folder) changed after the model was loaded from it, so pictures
 * made now could differ from what the model recorded. Load the model again. See {@link ModelFileAccess}.
 */
public class ModelFileChangedException extends ModelFileException {
    private final String change;

    /**
     * @param change what changed, e.g. "the file is now 0 bytes, was 16 MB"
     * @param message the whole explanation (after the path)
     */
    public ModelFileChangedException(Path path, String change, String message) {
        super(path, message);
        this.change = change;
    }

    /** What changed, in a few words (the message says more). */
    public String change() {
        return change;
    }
}
