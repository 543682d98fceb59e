package dev.ember.engine.model;

import static org.junit.jupiter.api.Assertions.fail;

import dev.ember.engine.ModelFileException;
import dev.ember.engine.UnsupportedModelException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Random damage to the parts readers interpret (headers, pickle, zip directory, gguf key-values and tensor infos) ends in a
 * ModelFileException or a successful load, never another exception or a crash.
 */
class CorruptionTest {
    @TempDir
    Path dir;

    @Test
    void corruptedFilesFailCleanly() throws IOException {
        SplittableRandom rnd = new SplittableRandom(1234);
        for (ModelFormat f : new ModelFormat[] {ModelFormat.SAFETENSORS, ModelFormat.CKPT, ModelFormat.GGUF}) {
            Path src = dir.resolve("src." + f.label());
            SyntheticCheckpoint.write(ModelPreset.TINY, src, f, DType.F16, 0);
            byte[] good = Files.readAllBytes(src);
            for (int trial = 0; trial < 150; trial++) {
                byte[] bad = good.clone();
                int hits = 1 + rnd.nextInt(4);
                for (int h = 0; h < hits; h++) {
                    // The start (safetensors header, zip local header + pickle) and the end (zip central directory).
                    int region = Math.min(good.length, 70_000);
                    int pos = rnd.nextBoolean() ? rnd.nextInt(region) : good.length - 1 - rnd.nextInt(Math.min(good.length, 40_000));
                    bad[pos] = (byte) rnd.nextInt(256);
                }
                Path p = dir.resolve("bad" + trial + "." + f.label());
                Files.write(p, bad);
                try (Checkpoint c = ModelFiles.open(p)) {
                    c.tensors().tensors().size();
                } catch (ModelFileException | UnsupportedModelException expected) {
                    // a clean refusal
                } catch (RuntimeException e) {
                    fail(f + " trial " + trial + ": " + e, e);
                }
                Files.delete(p);
            }
        }
    }
}
