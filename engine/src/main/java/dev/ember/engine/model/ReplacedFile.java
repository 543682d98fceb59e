package dev.ember.engine.model;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/** Writes a file through a temporary sibling that is moved into place, so a failed write leaves nothing behind. */
final class ReplacedFile {
    /** What writes the temporary file. */
    @FunctionalInterface
    interface Body {
        void write(Path tmp) throws IOException;
    }

    private ReplacedFile() {}

    /** Runs {@code body} on {@code file}'s temporary sibling, then moves it over {@code file}; on failure deletes it. */
    static void write(Path file, Body body) {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try {
            body.write(tmp);
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException ignored) {
                // the original failure is the one to report
            }
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }
}
