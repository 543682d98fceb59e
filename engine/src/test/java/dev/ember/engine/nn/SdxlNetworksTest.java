package dev.ember.engine.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ember.bindings.ember_h;
import dev.ember.engine.model.DType;
import dev.ember.engine.model.NetworkLayout;
import dev.ember.engine.model.StateDict;
import dev.ember.engine.model.TensorSpec;
import dev.ember.engine.model.TextEncoderConfig;
import dev.ember.engine.model.UnetConfig;
import dev.ember.engine.reference.Ops;
import dev.ember.engine.reference.TextEncoderReference;
import dev.ember.engine.reference.UnetReference;
import java.lang.foreign.Arena;
import java.util.Arrays;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * SDXL's new blocks in libember against the float64 references, on the tiny SDXL preset's shapes: the
 * text encoders' un-normed penultimate layer, OpenCLIP bigG's pooled output through its (non-square)
 * projection, and the UNet with per-level transformer depths, no attention at level 0, head width and
 * label_emb over the vector conditioning. Bounds are the design's: 1e-4 f32, 2e-3 f16, 1e-2 q8_0.
 */
class SdxlNetworksTest {
    private static final TextEncoderConfig G = TextEncoderConfig.TINY_XL_G;
    private static final TextEncoderConfig L = TextEncoderConfig.TINY_XL_L;
    private static final UnetConfig XL = UnetConfig.TINY_XL;
    private static final int T = 77;

    private static NativeContext context;

    @BeforeAll
    static void open() {
        context = new NativeContext(new NativeContext.Options(1, -1, false, false));
    }

    @AfterAll
    static void close() {
        context.close();
    }

    /**
     * Three rows as bigG sees them: padded with 0 after the end-of-text token (OpenCLIP), so the pooled
     * token is the end token; the third padded with end tokens, so only "first occurrence of the largest
     * id" picks the right one.
     */
    private static int[] openClipRows() {
        int[] rows = TextEncoderTest.prompts(); // two rows padded with 49407
        int[] out = new int[3 * T];
        for (int b = 0; b < 2; b++) {
            boolean ended = false;
            for (int t = 0; t < T; t++) {
                int id = rows[b * T + t];
                out[b * T + t] = ended ? 0 : id;
                if (id == 49407) ended = true;
            }
        }
        System.arraycopy(rows, 0, out, 2 * T, T);
        return out;
    }

    private static void within(double bound, double err, String what) {
        System.out.printf("SDXL %s: relative L2 %.3g%n", what, err);
        assertTrue(err <= bound, what + ": relative L2 " + err + " > " + bound);
    }

    private static double[] pooledReference(StateDict w, int[] tokens, int batch) {
        return TextEncoderReference.pooled(w, G, tokens, batch, T);
    }

    @Test
    void bigGPenultimateWithoutNormAndPooledMatchTheReference() {
        int[] tokens = openClipRows();
        try (StateDict w = TextEncoderTest.weights(G, DType.F32);
             TextEncoder enc = new TextEncoder(context, G, w, ember_h.EMBER_WEIGHT_F32())) {
            TextEncoder.Output out = enc.encode(tokens, 3, T, 2, false, true);
            within(1e-4, Ops.relativeL2(out.hidden(), TextEncoderReference.encode(w, G, tokens, 3, T, 2, false)), "bigG f32 penultimate, no final norm");
            within(1e-4, Ops.relativeL2(out.pooled(), pooledReference(w, tokens, 3)), "bigG f32 pooled");
            assertEquals(3 * G.projectionDim(), out.pooled().length);
            // The same hidden states with the norm: they are not what SDXL takes.
            double normed = Ops.relativeL2(out.hidden(), TextEncoderReference.encode(w, G, tokens, 3, T, 2, true));
            assertTrue(normed > 0.05, "the final layer norm must matter here: " + normed);
            // Asking for the pooled output does not change the hidden states.
            assertEquals(0, Arrays.compare(out.hidden(), enc.encode(tokens, 3, T, 2, false, false).hidden()));
            assertEquals(NetworkLayout.textEncoder(G).stream().mapToLong(TensorSpec::elementCount).sum(), enc.stats().parameters());
        }
    }

    @Test
    void bigGInF16AndQ8WithinTheirBounds() {
        int[] tokens = openClipRows();
        try (StateDict w = TextEncoderTest.weights(G, DType.F16);
             TextEncoder enc = new TextEncoder(context, G, w, ember_h.EMBER_WEIGHT_F16())) {
            TextEncoder.Output out = enc.encode(tokens, 3, T, 2, false, true);
            within(2e-3, Ops.relativeL2(out.hidden(), TextEncoderReference.encode(w, G, tokens, 3, T, 2, false)), "bigG f16 hidden");
            within(2e-3, Ops.relativeL2(out.pooled(), pooledReference(w, tokens, 3)), "bigG f16 pooled");
        }
        try (StateDict w = TextEncoderTest.weights(G, DType.F32);
             TextEncoder enc = new TextEncoder(context, G, w, ember_h.EMBER_WEIGHT_Q8_0())) {
            TextEncoder.Output out = enc.encode(tokens, 3, T, 2, false, true);
            within(1e-2, Ops.relativeL2(out.hidden(), TextEncoderReference.encode(w, G, tokens, 3, T, 2, false)), "bigG q8_0 hidden");
            within(1e-2, Ops.relativeL2(out.pooled(), pooledReference(w, tokens, 3)), "bigG q8_0 pooled");
            StateDict rounded = TextEncoderTest.q8RoundTrip(w, G);
            within(2e-3, Ops.relativeL2(out.pooled(), pooledReference(rounded, tokens, 3)), "bigG q8_0 pooled vs the rounded weights");
        }
    }

    @Test
    void clipLTakesItsPenultimateLayerWithoutTheFinalNorm() {
        int[] tokens = TextEncoderTest.prompts();
        try (StateDict w = TextEncoderTest.weights(L, DType.F32);
             TextEncoder enc = new TextEncoder(context, L, w, ember_h.EMBER_WEIGHT_F32())) {
            float[] hidden = enc.encode(tokens, 2, T, 2, false, false).hidden();
            within(1e-4, Ops.relativeL2(hidden, TextEncoderReference.encode(w, L, tokens, 2, T, 2, false)), "CLIP-L f32 penultimate, no final norm");
            assertThrows(IllegalArgumentException.class, () -> enc.encode(tokens, 2, T, 2, false, true), "CLIP-L has no projection");
        }
    }

    @Test
    void pooledOutputNeedsAProjection() {
        try (StateDict w = TextEncoderTest.weights(L, DType.F32);
             TextEncoder enc = new TextEncoder(context, L, w, ember_h.EMBER_WEIGHT_F32())) {
            var e = assertThrows(IllegalArgumentException.class, () -> enc.encode(TextEncoderTest.prompts(), 2, T, 1, true, true));
            assertTrue(e.getMessage().contains("no projection"), e.getMessage());
        }
    }

    /** Inputs of one UNet case with a vector conditioning (unit-scale values like real embeddings). */
    private record Case(int batch, int h, int w, float[] latent, float[] t, float[] context, int tokens, float[] vector) {
        static Case of(int batch, int h, int w, int tokens, float[] t, long seed) {
            return new Case(batch, h, w, UnetTest.gaussian(batch * XL.inChannels() * h * w, seed), t,
                    UnetTest.gaussian(batch * tokens * XL.contextDim(), seed + 1), tokens, UnetTest.gaussian(batch * XL.admInChannels(), seed + 2));
        }

        float[] run(Unet unet) {
            return unet.forward(latent, batch, h, w, t, context, tokens, vector);
        }

        double[] reference(StateDict weights) {
            return new UnetReference(weights, XL.numHeads(), XL.headDim()).forward(latent, batch, h, w, t, context, tokens, vector);
        }
    }

    @Test
    void unetWithVectorConditioningMatchesTheReference() {
        try (StateDict w = UnetTest.weights(XL, DType.F32);
             Unet unet = new Unet(context, XL, w, ember_h.EMBER_WEIGHT_F32())) {
            Case square = Case.of(2, 8, 8, 77, new float[] {999, 1}, 31);
            within(1e-4, Ops.relativeL2(square.run(unet), square.reference(w)), "UNet f32 2x4x8x8");
            Case odd = Case.of(1, 9, 6, 154, new float[] {250}, 32); // two prompt chunks of context, odd latent size
            within(1e-4, Ops.relativeL2(odd.run(unet), odd.reference(w)), "UNet f32 1x4x9x6, 154 tokens");
            // The vector really enters: another vector, another output.
            Case other = new Case(2, 8, 8, square.latent(), square.t(), square.context(), 77, UnetTest.gaussian(2 * XL.admInChannels(), 99));
            double moved = Ops.relativeL2(other.run(unet), square.reference(w));
            assertTrue(moved > 1e-2, "the vector conditioning must change the output: " + moved);
            assertEquals(NetworkLayout.unet(XL).stream().mapToLong(TensorSpec::elementCount).sum(), unet.stats().parameters());
        }
    }

    @Test
    void depthsThatDifferBetweenLevelsAndTheMiddleMatchTheReference() {
        // SDXL's pattern (0, 2, 10, middle 10) scaled down: 0, 1, 2 and 3 in the middle.
        UnetConfig c = new UnetConfig(4, 4, 32, 1, new int[] {1, 2, 2}, 0b110, 0, 16, 1, 96, true, 32, new int[] {0, 1, 2}, 3, 88);
        try (StateDict w = UnetTest.weights(c, DType.F32);
             Unet unet = new Unet(context, c, w, ember_h.EMBER_WEIGHT_F32())) {
            float[] latent = UnetTest.gaussian(4 * 8 * 6, 41), ctx = UnetTest.gaussian(10 * 96, 42), y = UnetTest.gaussian(88, 43);
            float[] t = {600};
            within(1e-4, Ops.relativeL2(unet.forward(latent, 1, 8, 6, t, ctx, 10, y),
                    new UnetReference(w, c.numHeads(), c.headDim()).forward(latent, 1, 8, 6, t, ctx, 10, y)), "UNet f32, depths 0 1 2, middle 3");
        }
    }

    @Test
    void unetInF16AndQ8WithinTheirBounds() {
        try (StateDict w = UnetTest.weights(XL, DType.F16);
             Unet unet = new Unet(context, XL, w, ember_h.EMBER_WEIGHT_F16())) {
            Case k = Case.of(2, 8, 8, 77, new float[] {999, 1}, 33);
            within(2e-3, Ops.relativeL2(k.run(unet), k.reference(w)), "UNet f16");
        }
        try (StateDict w = UnetTest.weights(XL, DType.F32);
             Unet unet = new Unet(context, XL, w, ember_h.EMBER_WEIGHT_Q8_0());
             Arena arena = Arena.ofConfined()) {
            Case k = Case.of(2, 8, 8, 77, new float[] {999, 1}, 34);
            float[] actual = k.run(unet);
            within(2e-3, Ops.relativeL2(actual, k.reference(UnetTest.asStoredForQ8(XL, w, arena))), "UNet q8_0 vs the weights it holds");
            within(1e-2, Ops.relativeL2(actual, k.reference(w)), "UNet q8_0 vs unquantised");
        }
    }

    @Test
    void theVectorIsRequiredExactlyWhenTheUnetHasLabelEmb() {
        try (StateDict xl = UnetTest.weights(XL, DType.F32);
             Unet unet = new Unet(context, XL, xl, ember_h.EMBER_WEIGHT_F32())) {
            Case k = Case.of(1, 8, 8, 5, new float[] {10}, 35);
            var e = assertThrows(IllegalArgumentException.class, () -> unet.forward(k.latent(), 1, 8, 8, k.t(), k.context(), 5));
            assertTrue(e.getMessage().contains("vector conditioning"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> unet.forward(k.latent(), 1, 8, 8, k.t(), k.context(), 5, new float[3]));
        }
        try (StateDict sd = UnetTest.weights(UnetConfig.TINY, DType.F32);
             Unet unet = new Unet(context, UnetConfig.TINY, sd, ember_h.EMBER_WEIGHT_F32())) {
            var e = assertThrows(IllegalArgumentException.class,
                    () -> unet.forward(new float[4 * 64], 1, 8, 8, new float[] {1}, new float[5 * 32], 5, new float[88]));
            assertTrue(e.getMessage().contains("no vector conditioning"), e.getMessage());
        }
    }
}
