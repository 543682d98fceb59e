package dev.ember.engine.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ember.bindings.ember_h;
import dev.ember.engine.model.DType;
import dev.ember.engine.model.NetworkLayout;
import dev.ember.engine.model.StateDict;
import dev.ember.engine.model.SyntheticWeights;
import dev.ember.engine.model.UnetConfig;
import dev.ember.engine.nn.NativeContext;
import dev.ember.engine.nn.Unet;
import dev.ember.engine.reference.Ops;
import dev.ember.engine.reference.UnetReference;
import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Classifier-free guidance at the UNet's output, numerically: the guided network must give
 * {@code uncond + scale * (cond - uncond)} with cond the first prompt of the context and uncond the
 * second, each pass checked against the float64 reference UNet.
 */
class GuidedUnetTest {
    private static final UnetConfig C = UnetConfig.TINY;
    private static final int H = 8, W = 8, TOKENS = 7;

    static float[] gaussian(int n, long seed) {
        Random r = new Random(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian();
        return a;
    }

    @Test
    void guidedOutputIsUncondPlusScaleTimesCondMinusUncond() {
        float[] cond = gaussian(TOKENS * C.contextDim(), 1), uncond = gaussian(TOKENS * C.contextDim(), 2);
        float[] x = gaussian(C.inChannels() * H * W, 3);
        float timestep = 500.5f;
        double scale = 7.5;
        try (StateDict w = SyntheticWeights.generate(NetworkLayout.unet(C), 99, DType.F32, Arena.ofShared());
             NativeContext ctx = new NativeContext(new NativeContext.Options(1, -1, false, false));
             Unet unet = new Unet(ctx, C, w, ember_h.EMBER_WEIGHT_F32())) {
            UnetReference ref = new UnetReference(w, 2, 0); // TINY: two heads
            double[] c = ref.forward(x, 1, H, W, new float[] {timestep}, cond, TOKENS);
            double[] u = ref.forward(x, 1, H, W, new float[] {timestep}, uncond, TOKENS);
            double[] expected = new double[c.length], swapped = new double[c.length];
            for (int i = 0; i < c.length; i++) {
                expected[i] = u[i] + scale * (c[i] - u[i]);
                swapped[i] = c[i] + scale * (u[i] - c[i]);
            }
            float[] guided;
            try (GuidedUnet g = new GuidedUnet(unet, unet::forward, new Conditioning(cond, TOKENS, null), new Conditioning(uncond, TOKENS, null), scale, H, W)) {
                guided = g.apply(x, timestep);
                // The buffers are reused from the second call on: the same answer again.
                assertArrayEquals(guided, g.apply(x, timestep));
            }
            double err = Ops.relativeL2(guided, expected);
            System.out.printf("CFG 7.5 vs float64 reference: relative L2 %.3g (cond/uncond swapped: %.3g)%n", err, Ops.relativeL2(guided, swapped));
            assertTrue(err < 1e-4, "guided output vs uncond + 7.5 (cond - uncond): relative L2 " + err);
            assertTrue(Ops.relativeL2(guided, swapped) > 0.1, "the check must tell cond from uncond");

            // Scale 1: only the conditional pass, one prompt in the context.
            try (GuidedUnet g = new GuidedUnet(unet, unet::forward, new Conditioning(cond, TOKENS, null), null, 1, H, W)) {
                double err1 = Ops.relativeL2(g.apply(x, timestep), c);
                assertTrue(err1 < 1e-4, "scale 1 is the conditional output: " + err1);
            }
            assertTrue(!Arrays.equals(c, u), "prompts must matter for the check to mean anything");
        }
    }
}
