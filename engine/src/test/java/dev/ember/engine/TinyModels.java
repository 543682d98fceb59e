package dev.ember.engine;

import dev.ember.engine.model.DType;
import dev.ember.engine.model.ModelFormat;
import dev.ember.engine.model.ModelPreset;
import dev.ember.engine.model.SyntheticCheckpoint;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** A tiny synthetic checkpoint on disk, made once per test JVM. */
public final class TinyModels {
    private static Path tiny;

    private TinyModels() {}

    public static synchronized Path tinySafetensors() {
        if (tiny == null) {
            try {
                Path dir = Files.createTempDirectory("ember-tiny-");
                dir.toFile().deleteOnExit();
                tiny = dir.resolve("tiny.safetensors");
                SyntheticCheckpoint.write(ModelPreset.TINY, tiny, ModelFormat.SAFETENSORS, DType.F32, 1234);
                tiny.toFile().deleteOnExit();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return tiny;
    }
}
