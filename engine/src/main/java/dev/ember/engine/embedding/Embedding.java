package dev.ember.engine.embedding;

import java.nio.file.Path;
import java.util.Objects;

/**
 * A textual-inversion embedding: {@code count} vectors that stand in for its name in a prompt, one token
 * slot each. SDXL embeddings carry a second set for SDXL's second text encoder ({@code clip_g}); SD 1.x/2.x
 * ones only {@code vectors}.
 *
 * @param name    the file name without extension: what a prompt writes to use it
 * @param width   the width of each vector (768 for SD 1.x, 1024 for SD 2.x, SDXL: clip_l's 768)
 * @param vectors [count, width], row-major
 * @param widthG  SDXL's clip_g width (1280), 0 when absent
 * @param vectorsG SDXL's clip_g vectors [count, widthG], or null
 */
public record Embedding(String name, Path file, int count, int width, float[] vectors, int widthG, float[] vectorsG) {
    public Embedding {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(vectors, "vectors");
        if (count < 1 || width < 1 || vectors.length != count * width) {
            throw new IllegalArgumentException(name + ": " + vectors.length + " values are not " + count + " vectors of " + width);
        }
        if ((vectorsG == null) != (widthG == 0) || (vectorsG != null && vectorsG.length != count * widthG)) {
            throw new IllegalArgumentException(name + ": clip_g vectors do not match");
        }
    }

    /** Whether this is an SDXL embedding (two sets of vectors). */
    public boolean isSdxl() {
        return vectorsG != null;
    }
}
