package dev.ember.engine;

import dev.ember.engine.model.DType;
import dev.ember.engine.model.ModelFormat;
import dev.ember.engine.model.ModelPreset;
import dev.ember.engine.model.SyntheticCheckpoint;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

/** A tiny synthetic checkpoint on disk, made once per test JVM. */
public final class TinyModels {
    private static Path tiny;
    private static Path tinyXl;

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

    /** The tiny SDXL preset (both text encoders, label_emb, SDXL VAE scale) as f32 safetensors, made once per test JVM. */
    public static synchronized Path tinyXlSafetensors() {
        if (tinyXl == null) {
            try {
                Path dir = Files.createTempDirectory("ember-tiny-xl-");
                dir.toFile().deleteOnExit();
                tinyXl = dir.resolve("tiny-xl.safetensors");
                SyntheticCheckpoint.write(ModelPreset.SDXL_TINY, tinyXl, ModelFormat.SAFETENSORS, DType.F32, 1234);
                tinyXl.toFile().deleteOnExit();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return tinyXl;
    }

    /**
     * The tiny model as a {@code .ckpt} whose storages are compressed (so it is inflated into memory, not mapped),
     * written to {@code dir}; its stored twin is left there as {@code tiny.ckpt}.
     */
    public static Path deflatedCkpt(Path dir) throws IOException {
        Path stored = dir.resolve("tiny.ckpt"), deflated = dir.resolve("deflated.ckpt");
        SyntheticCheckpoint.write(ModelPreset.TINY, stored, ModelFormat.CKPT, DType.F32, 1234);
        try (ZipFile in = new ZipFile(stored.toFile()); ZipOutputStream out = new ZipOutputStream(Files.newOutputStream(deflated))) {
            for (ZipEntry e : Collections.list(in.entries())) {
                out.putNextEntry(new ZipEntry(e.getName()));
                in.getInputStream(e).transferTo(out);
            }
        }
        return deflated;
    }
}
