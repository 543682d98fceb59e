package dev.ember.engine.model;

import java.util.Map;
import java.util.Objects;

/**
 * A file's tensors under the names it stores them with, before canonical renaming, plus its string
 * metadata (safetensors {@code __metadata__}, or hyperparameters read from diffusers configs under the
 * same {@code ember.*} keys). Closing it closes the tensors' mapping.
 */
public record RawCheckpoint(ModelFormat format, StateDict tensors, Map<String, String> metadata) implements AutoCloseable {
    public RawCheckpoint {
        Objects.requireNonNull(format, "format");
        Objects.requireNonNull(tensors, "tensors");
        metadata = Map.copyOf(metadata);
    }

    @Override
    public void close() {
        tensors.close();
    }
}
