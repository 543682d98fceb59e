package dev.ember.engine.nn;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ember.bindings.ember_h;
import dev.ember.engine.TinyModels;
import dev.ember.engine.model.Checkpoint;
import dev.ember.engine.model.ModelFiles;
import dev.ember.engine.model.RawCheckpoint;
import dev.ember.engine.model.SafetensorsReader;
import dev.ember.engine.reference.Ops;
import dev.ember.engine.reference.TextEncoderReference;
import dev.ember.engine.reference.UnetReference;
import dev.ember.engine.reference.VaeReference;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * A model file end to end: the networks built from what {@link ModelFiles} detects (configs from shapes and
 * metadata, canonical names) against the float64 references reading the file's raw tensors, with the tiny
 * preset's head counts and activation stated here. A detection mistake (a level, a head count, a norm's
 * groups) then shows as a difference instead of being shared by both sides.
 */
class DetectedModelTest {
    private static float[] gaussian(int n, long seed) {
        Random r = new Random(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian();
        return a;
    }

    @Test
    void networksFromTheDetectedSpecMatchTheReferencesOnTheRawFile() {
        Path file = TinyModels.tinySafetensors();
        int f32 = ember_h.EMBER_WEIGHT_F32();
        try (NativeContext ctx = new NativeContext(new NativeContext.Options(1, -1, false, false));
             Checkpoint c = ModelFiles.open(file); RawCheckpoint raw = SafetensorsReader.open(file)) {
            // The tiny preset: UNet with 2 heads, CLIP text encoder with 2 heads and quick-GELU (TINY's constants, stated here).
            float[] latent = gaussian(4 * 8 * 8, 1), context = gaussian(7 * 32, 2), t = {321};
            try (Unet unet = new Unet(ctx, c.spec().unet(), c.tensors(), f32)) {
                double err = Ops.relativeL2(unet.forward(latent, 1, 8, 8, t, context, 7),
                        new UnetReference(raw.tensors(), 2, 0).forward(latent, 1, 8, 8, t, context, 7));
                assertTrue(err < 1e-4, "UNet from the detected spec: relative L2 " + err);
            }
            int[] tokens = {49406, 320, 1125, 539, 49407};
            try (TextEncoder text = new TextEncoder(ctx, c.spec().text(), c.tensors(), f32)) {
                double err = Ops.relativeL2(text.encode(tokens, 1, 5, 1), TextEncoderReference.encode(raw.tensors(), 2, true, tokens, 1, 5, 1));
                assertTrue(err < 1e-4, "text encoder from the detected spec: relative L2 " + err);
            }
            float[] z = gaussian(4 * 3 * 4, 3);
            try (Vae vae = new Vae(ctx, c.spec().vae(), c.tensors(), f32, Vae.Parts.BOTH)) {
                double err = Ops.relativeL2(vae.decode(z, 1, 3, 4), new VaeReference(raw.tensors()).decode(z, 1, 3, 4));
                assertTrue(err < 1e-4, "VAE from the detected spec: relative L2 " + err);
            }
        }
    }
}
