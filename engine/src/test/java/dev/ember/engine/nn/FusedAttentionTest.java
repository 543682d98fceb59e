package dev.ember.engine.nn;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ember.bindings.ember_h;
import dev.ember.engine.model.DType;
import dev.ember.engine.model.NetworkLayout;
import dev.ember.engine.model.StateDict;
import dev.ember.engine.model.SyntheticWeights;
import dev.ember.engine.model.UnetConfig;
import dev.ember.engine.reference.Ops;
import dev.ember.engine.reference.UnetReference;
import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Ember's fused CPU attention (native/src/cpu_attention.cpp), through a UNet whose shapes hit every edge of
 * its tiling: heads of 10 and 20 (not multiples of the 8-float vectors, so rows are padded), 16 heads, 100
 * queries (a full tile of 96 and a partial one), 70 context keys and 100 self-attention keys (full and
 * partial key tiles of 64), 25-token middle block, batch 2. Channels are multiples of 32 because the
 * reference's GroupNorm is LDM's 32 groups. The kernel computes in f32, so with f32 weights
 * it must meet the f32 bound against the float64 reference, like the exact path.
 */
class FusedAttentionTest {
    /** 160 channels in 16 heads (D = 10) on level 0, 320 in 16 heads (D = 20) in the middle block; context 12. */
    private static final UnetConfig ODD_HEADS = new UnetConfig(4, 4, 160, 1, new int[] {1, 2}, 0b01, 16, 0, 1, 12, false, 32);
    private static final int BATCH = 2, SIDE = 10, TOKENS = 70;

    @Test
    void fusedAttentionMeetsTheF32BoundOnOddShapes() {
        Random r = new Random(7);
        float[] latent = gaussian(r, BATCH * 4 * SIDE * SIDE);
        float[] context = gaussian(r, BATCH * TOKENS * ODD_HEADS.contextDim());
        float[] timesteps = {999, 20};
        try (StateDict w = SyntheticWeights.generate(NetworkLayout.unet(ODD_HEADS), 11, DType.F32, Arena.ofShared());
             NativeContext fusedContext = new NativeContext(new NativeContext.Options(2, -1, true, false));
             NativeContext exactContext = new NativeContext(new NativeContext.Options(2, -1, false, false));
             Unet fused = new Unet(fusedContext, ODD_HEADS, w, ember_h.EMBER_WEIGHT_F32());
             Unet exact = new Unet(exactContext, ODD_HEADS, w, ember_h.EMBER_WEIGHT_F32())) {
            double[] reference = new UnetReference(w, ODD_HEADS.numHeads(), ODD_HEADS.headDim()).forward(latent, BATCH, SIDE, SIDE, timesteps, context, TOKENS);
            float[] a = fused.forward(latent, BATCH, SIDE, SIDE, timesteps, context, TOKENS);
            float[] b = exact.forward(latent, BATCH, SIDE, SIDE, timesteps, context, TOKENS);
            double fusedError = Ops.relativeL2(a, reference), exactError = Ops.relativeL2(b, reference);
            System.out.printf("UNet with 10- and 20-wide heads, fused attention: relative L2 %.3g (exact path %.3g)%n", fusedError, exactError);
            assertTrue(fusedError <= 1e-4, "fused attention: relative L2 " + fusedError + " > 1e-4");
            assertTrue(exactError <= 1e-4, "exact attention: relative L2 " + exactError + " > 1e-4");
            assertFalse(Arrays.equals(a, b), "the fused and exact paths must both have run");
        }
    }

    private static float[] gaussian(Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian();
        return a;
    }
}
