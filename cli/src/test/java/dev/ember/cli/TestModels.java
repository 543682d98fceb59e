package dev.ember.cli;

import dev.ember.engine.model.DType;
import dev.ember.engine.model.ModelFormat;
import dev.ember.engine.model.ModelPreset;
import dev.ember.engine.model.SyntheticCheckpoint;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import dev.ember.engine.TinyModel;

/** Test fixtures shared by the CLI tests: a private tiny-model cache, and a tiny model file at a known path. */
final class TestModels {
    private static Path cache;
    private static Path tiny;

    private TestModels() {}

    /** Points the default-model cache at a temporary folder, so tests never touch ~/.cache/ember. */
    static synchronized Path useTemporaryCache() {
        if (cache == null) {
            try {
                cache = Files.createTempDirectory("ember-cli-cache-");
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            System.setProperty(TinyModel.CACHE_PROPERTY, cache.toString());
        }
        return cache;
    }

    /** A tiny model file of our own (same preset and seed as the default model). */
    static synchronized Path tiny() {
        if (tiny == null) {
            try {
                tiny = Files.createTempDirectory("ember-cli-model-").resolve("tiny.safetensors");
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            SyntheticCheckpoint.write(ModelPreset.TINY, tiny, ModelFormat.SAFETENSORS, DType.F32, TinyModel.SEED);
        }
        return tiny;
    }
}
