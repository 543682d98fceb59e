package dev.ember.engine.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ember.bindings.ember_h;
import dev.ember.engine.model.DType;
import dev.ember.engine.model.NetworkLayout;
import dev.ember.engine.model.StateDict;
import dev.ember.engine.model.SyntheticWeights;
import dev.ember.engine.model.UnetConfig;
import dev.ember.engine.nn.NativeContext;
import dev.ember.engine.nn.Unet;
import dev.ember.engine.reference.UnetReference;
import java.lang.foreign.Arena;
import org.junit.jupiter.api.Test;

/**
 * An inpainting UNet (9 input channels) through the guided network: each row's input is the latent followed by
 * the appended mask and masked-image channels, checked against the float64 reference UNet on the concatenated
 * input (the reference reads its channel count from the raw conv_in weight).
 */
class InpaintModelUnetTest {
    private static final UnetConfig C = UnetConfig.TINY.withInChannels(9);
    private static final int H = 8, W = 8, TOKENS = 5;

    @Test
    void guidedRowsAreLatentThenMaskAndMaskedImage() {
        int plane = H * W;
        float[] context = GuidedUnetTest.gaussian(2 * TOKENS * C.contextDim(), 1); // [cond, uncond]
        float[] x = GuidedUnetTest.gaussian(4 * plane, 2), extra = GuidedUnetTest.gaussian(5 * plane, 3);
        for (int p = 0; p < plane; p++) extra[p] = p % 2; // the mask channel
        float[] full = new float[9 * plane];
        System.arraycopy(x, 0, full, 0, x.length);
        System.arraycopy(extra, 0, full, x.length, extra.length);
        float[] cond = java.util.Arrays.copyOfRange(context, 0, TOKENS * C.contextDim());
        float[] uncond = java.util.Arrays.copyOfRange(context, TOKENS * C.contextDim(), context.length);
        float t = 321;
        double scale = 5;
        try (StateDict w = SyntheticWeights.generate(NetworkLayout.unet(C), 7, DType.F32, Arena.ofShared());
             NativeContext ctx = new NativeContext(new NativeContext.Options(1, -1, false, false));
             Unet unet = new Unet(ctx, C, w, ember_h.EMBER_WEIGHT_F32())) {
            UnetReference ref = new UnetReference(w, 2, 0);
            double[] c = ref.forward(full, 1, H, W, new float[] {t}, cond, TOKENS);
            double[] u = ref.forward(full, 1, H, W, new float[] {t}, uncond, TOKENS);
            float[] guided, again;
            try (GuidedUnet g = new GuidedUnet(unet, unet::forward, new Conditioning(cond, TOKENS, null), new Conditioning(uncond, TOKENS, null), scale, H, W)) {
                g.appendChannels(extra);
                guided = g.apply(x, t);
                again = g.apply(x, t);
            }
            assertEquals(4 * plane, guided.length);
            double max = 0;
            for (int i = 0; i < guided.length; i++) {
                double expected = u[i] + scale * (c[i] - u[i]);
                max = Math.max(max, Math.abs(expected - guided[i]));
                assertEquals(guided[i], again[i], 0, "the appended channels stay in place between calls");
            }
            assertTrue(max < 2e-3, "max error " + max);
        }
    }
}
