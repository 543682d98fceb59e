package dev.ember.engine;

import dev.ember.bindings.NativeLibrary;
import dev.ember.engine.model.DType;
import dev.ember.engine.model.ModelFormat;
import dev.ember.engine.model.ModelPreset;
import dev.ember.engine.model.SyntheticCheckpoint;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * The model Ember uses when none is given: the tiny synthetic preset (real SD 1.x structure, random
 * weights, about 16 MB as f32), made once and cached as {@code ${EMBER_CACHE:-~/.cache/ember}/models/tiny.safetensors}.
 * It makes the whole pipeline run anywhere in seconds; its pictures are noise.
 */
public final class TinyModel {
    public static final String PRESET = "tiny";
    /** Fixed so every machine's cached tiny model has the same bytes, and images made with it re-run anywhere. */
    public static final long SEED = 1234;
    /** Tests set this system property to keep the cache in a temporary folder; it wins over EMBER_CACHE. */
    public static final String CACHE_PROPERTY = NativeLibrary.CACHE_PROPERTY;

    private TinyModel() {}

    public static final String NOTICE = "ember: no --model given, so Ember uses its tiny synthetic model (random weights): "
            + "its pictures are noise. For real images pass --model PATH, a Stable Diffusion 1.x, 2.x or SDXL checkpoint "
            + "(.safetensors, .ckpt or .gguf file, or a diffusers folder).";

    /** Ember's cache folder: {@link NativeLibrary#cacheRoot()}. */
    public static Path cacheRoot() {
        return NativeLibrary.cacheRoot();
    }

    /** Where the cached tiny model is (or will be), without making it. */
    public static Path location() {
        return cacheRoot().resolve("models").resolve("tiny.safetensors");
    }

    /** The cached tiny model, written first if missing. */
    public static synchronized Path path() {
        Path file = location();
        if (Files.isRegularFile(file)) return file;
        try {
            Files.createDirectories(file.getParent());
            // Another process may be making it too: each writes its own temp file, and the atomic move
            // makes one complete file win; nobody ever opens a half-written model.
            Path temp = Files.createTempFile(file.getParent(), ".tiny-", ".safetensors");
            try {
                SyntheticCheckpoint.write(ModelPreset.TINY, temp, ModelFormat.SAFETENSORS, DType.F32, SEED);
                Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } finally {
                Files.deleteIfExists(temp);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the tiny model to " + file + ": " + e.getMessage(), e);
        }
        return file;
    }
}
