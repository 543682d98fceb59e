package dev.ember.engine.model;

import java.nio.file.Path;
import java.util.Objects;

/**
 * An opened model: its canonical tensors (exactly those the detected networks need, in layout order,
 * slices of the mapped files), what it is, and what loading found. Closing it unmaps the files; the
 * tensors are invalid afterwards. Obtain one from {@link ModelFiles#open(Path)}.
 */
public record Checkpoint(Path path, ModelSpec spec, StateDict tensors, ModelReport report) implements AutoCloseable {
    public Checkpoint {
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(spec, "spec");
        Objects.requireNonNull(tensors, "tensors");
        Objects.requireNonNull(report, "report");
    }

    public ModelFormat format() {
        return report.format();
    }

    /** Whether {@link #close()} has run. */
    public boolean isClosed() {
        return tensors.isClosed();
    }

    @Override
    public void close() {
        tensors.close();
    }
}
