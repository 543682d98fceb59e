package dev.ember.engine.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ember.bindings.ember_h;
import dev.ember.engine.model.DType;
import dev.ember.engine.model.NetworkLayout;
import dev.ember.engine.model.StateDict;
import dev.ember.engine.model.SyntheticWeights;
import dev.ember.engine.model.UnetConfig;
import dev.ember.engine.model.VaeConfig;
import dev.ember.engine.reference.Ops;
import dev.ember.engine.reference.UnetReference;
import java.lang.foreign.Arena;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@code --weight-type bf16} (EMBER_WEIGHT_BF16) against the float64 reference run on the same bf16 weights, so
 * only the compute differs: every product rounds its activations to bf16 (8 significant bits, unit roundoff
 * 2^-9 = 1.95e-3, eight times f16's 2.4e-4), the im2col included.
 */
class Bf16WeightsTest {
    /** f16's bound (2e-3) scaled by bf16's eight times coarser rounding. */
    static final double BF16_BOUND = 1.6e-2;

    @Test
    void unetWithBf16WeightsMatchesTheReference() {
        Random r = new Random(3);
        float[] latent = gaussian(r, 2 * 4 * 8 * 8), context = gaussian(r, 2 * 77 * UnetConfig.TINY.contextDim());
        float[] timesteps = {999, 1};
        try (StateDict w = SyntheticWeights.generate(NetworkLayout.unet(UnetConfig.TINY), 5, DType.BF16, Arena.ofShared());
             NativeContext ctx = new NativeContext(new NativeContext.Options(1, -1, false, false));
             Unet unet = new Unet(ctx, UnetConfig.TINY, w, ember_h.EMBER_WEIGHT_BF16())) {
            assertEquals(ember_h.EMBER_WEIGHT_BF16(), unet.stats().weightType());
            double[] reference = new UnetReference(w, UnetConfig.TINY.numHeads(), UnetConfig.TINY.headDim()).forward(latent, 2, 8, 8, timesteps, context, 77);
            double err = Ops.relativeL2(unet.forward(latent, 2, 8, 8, timesteps, context, 77), reference);
            System.out.printf("UNet bf16 2x4x8x8: relative L2 %.3g%n", err);
            assertTrue(err <= BF16_BOUND, "bf16: relative L2 " + err + " > " + BF16_BOUND);
        }
    }

    @Test
    void theVaeKeepsF16() {
        try (StateDict w = SyntheticWeights.generate(NetworkLayout.vae(VaeConfig.TINY), 5, DType.F32, Arena.ofShared());
             NativeContext ctx = new NativeContext(new NativeContext.Options(1, -1, false, false));
             Vae vae = new Vae(ctx, VaeConfig.TINY, w, ember_h.EMBER_WEIGHT_BF16(), Vae.Parts.BOTH)) {
            assertEquals(ember_h.EMBER_WEIGHT_F16(), vae.stats().weightType());
        }
    }

    private static float[] gaussian(Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian();
        return a;
    }
}
