package dev.ember.engine.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ember.bindings.ember_h;
import dev.ember.engine.FlashAttention;
import dev.ember.engine.NativeException;
import dev.ember.engine.model.DType;
import dev.ember.engine.model.NetworkLayout;
import dev.ember.engine.model.StateDict;
import dev.ember.engine.model.SyntheticWeights;
import dev.ember.engine.model.TensorData;
import dev.ember.engine.model.TensorSpec;
import dev.ember.engine.model.TextEncoderConfig;
import dev.ember.engine.model.UnetConfig;
import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@code ember_*_set_weights} (how LoRAs are merged in and out) and the text encoder's extra token
 * embeddings (textual inversion). Replacing tensors must give exactly the network that loading the new
 * values would give, in every stored type and in both weight modes (copied, in place), and putting the
 * originals back must give the first network again.
 */
class WeightReplacementTest {
    private static final UnetConfig UNET = UnetConfig.TINY;
    private static final TextEncoderConfig TEXT = TextEncoderConfig.TINY;

    private static float[] gaussian(int n, long seed) {
        Random r = new Random(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian();
        return a;
    }

    /** The specs' tensors of {@code other} for the names that pass {@code chosen}: the "merged" values. */
    private static List<TensorData> pick(StateDict other, List<TensorSpec> specs, java.util.function.Predicate<String> chosen) {
        List<TensorData> out = new ArrayList<>();
        for (TensorSpec s : specs) if (chosen.test(s.name())) out.add(other.get(s.name()));
        return out;
    }

    /** {@code base} with {@code replaced} substituted: what a network loaded from the merged values sees. */
    private static StateDict substituted(StateDict base, List<TensorData> replaced) {
        Map<String, TensorData> all = new LinkedHashMap<>(base.tensors());
        for (TensorData t : replaced) all.put(t.name(), t);
        return new StateDict(all, Arena.global());
    }

    private static float[] run(Unet unet) {
        int h = 4, w = 4, tokens = 3;
        return unet.forward(gaussian(2 * 4 * h * w, 1), 2, h, w, new float[] {999f, 10f}, gaussian(2 * tokens * UNET.contextDim(), 2),
                tokens);
    }

    private static void unetCase(DType dtype, int weightType, boolean inPlace) {
        var specs = NetworkLayout.unet(UNET);
        // Every matrix kind: attention projections (f16 under q8_0), linear layers (q8_0), 3x3 and 1x1 kernels.
        java.util.function.Predicate<String> chosen = n -> n.endsWith("attn1.to_q.weight") || n.endsWith("ff.net.2.weight")
                || n.endsWith("in_layers.2.weight") || n.endsWith("proj_in.weight") || n.endsWith("time_embed.0.weight");
        try (NativeContext ctx = new NativeContext(new NativeContext.Options(1, -1, FlashAttention.OFF, false, false, inPlace));
             StateDict base = SyntheticWeights.generate(specs, 1, dtype, Arena.ofShared());
             StateDict other = SyntheticWeights.generate(specs, 2, dtype, Arena.ofShared())) {
            List<TensorData> merged = pick(other, specs, chosen);
            assertFalse(merged.isEmpty());
            float[] expected, original;
            try (Unet fresh = new Unet(ctx, UNET, substituted(base, merged), weightType)) {
                expected = run(fresh);
            }
            try (Unet unet = new Unet(ctx, UNET, base, weightType)) {
                original = run(unet);
                unet.setWeights(merged);
                float[] replaced = run(unet);
                assertArrayEquals(expected, replaced, "replaced weights = loaded weights (" + dtype + ", type " + weightType + ", in place " + inPlace + ")");
                assertFalse(Arrays.equals(original, replaced), "the replacement changed the output");
                unet.setWeights(pick(base, specs, chosen));
                assertArrayEquals(original, run(unet), "the originals back give the first network");
            }
        }
    }

    @Test
    void unetReplacementEqualsLoadingInEveryTypeAndMode() {
        unetCase(DType.F32, ember_h.EMBER_WEIGHT_F32(), false);
        unetCase(DType.F16, ember_h.EMBER_WEIGHT_AUTO(), false);
        unetCase(DType.F16, ember_h.EMBER_WEIGHT_AUTO(), true);
        unetCase(DType.F32, ember_h.EMBER_WEIGHT_F16(), true);
        unetCase(DType.F32, ember_h.EMBER_WEIGHT_Q8_0(), false);
        unetCase(DType.F16, ember_h.EMBER_WEIGHT_Q8_0(), true);
        unetCase(DType.F32, ember_h.EMBER_WEIGHT_Q4_0(), false);
    }

    @Test
    void refusedReplacementsChangeNothing() {
        var specs = NetworkLayout.unet(UNET);
        try (NativeContext ctx = new NativeContext(new NativeContext.Options(1, -1, FlashAttention.OFF, false, false, true));
             StateDict base = SyntheticWeights.generate(specs, 1, DType.F16, Arena.ofShared());
             StateDict other = SyntheticWeights.generate(specs, 2, DType.F16, Arena.ofShared());
             Unet unet = new Unet(ctx, UNET, base, ember_h.EMBER_WEIGHT_AUTO())) {
            float[] before = run(unet);
            TensorData good = other.get(NetworkLayout.UNET_PREFIX + "out.2.weight");
            TensorData unknown = good.renamed(NetworkLayout.UNET_PREFIX + "no.such.weight");
            NativeException e = assertThrows(NativeException.class, () -> unet.setWeights(List.of(good, unknown)));
            assertTrue(e.getMessage().contains("no weight model.diffusion_model.no.such.weight"), e.getMessage());
            TensorData flat = good.reshaped(good.elementCount());
            e = assertThrows(NativeException.class, () -> unet.setWeights(List.of(flat)));
            assertTrue(e.getMessage().contains("has shape"), e.getMessage());
            assertArrayEquals(before, run(unet), "a refused list changes no weight, not even its valid entries");
        }
    }

    @Test
    void textEncoderReplacementEqualsLoading() {
        var specs = NetworkLayout.textEncoder(TEXT);
        int[] tokens = new int[77];
        for (int i = 0; i < tokens.length; i++) tokens[i] = (i * 7919) % 49408;
        for (int weightType : new int[] {ember_h.EMBER_WEIGHT_F32(), ember_h.EMBER_WEIGHT_Q8_0()}) {
            try (NativeContext ctx = new NativeContext(new NativeContext.Options(1, -1, FlashAttention.OFF, false, false, true));
                 StateDict base = SyntheticWeights.generate(specs, 1, DType.F32, Arena.ofShared());
                 StateDict other = SyntheticWeights.generate(specs, 2, DType.F32, Arena.ofShared())) {
                List<TensorData> merged = pick(other, specs, n -> n.endsWith("q_proj.weight") || n.endsWith("fc1.weight"));
                float[] expected;
                try (TextEncoder fresh = new TextEncoder(ctx, TEXT, substituted(base, merged), weightType)) {
                    expected = fresh.encode(tokens, 1, 77, 1);
                }
                try (TextEncoder text = new TextEncoder(ctx, TEXT, base, weightType)) {
                    text.setWeights(merged);
                    assertArrayEquals(expected, text.encode(tokens, 1, 77, 1));
                }
            }
        }
    }

    @Test
    void extraEmbeddingsAreUsedExactlyAsGiven() {
        var specs = NetworkLayout.textEncoder(TEXT);
        int vocab = TEXT.vocabSize(), d = TEXT.hiddenSize();
        for (DType dtype : new DType[] {DType.F32, DType.F16}) {
            try (NativeContext ctx = new NativeContext(new NativeContext.Options(1, -1, FlashAttention.OFF, false, false, false));
                 StateDict weights = SyntheticWeights.generate(specs, 3, dtype, Arena.ofShared());
                 TextEncoder text = new TextEncoder(ctx, TEXT, weights, ember_h.EMBER_WEIGHT_AUTO())) {
                // Extra rows that are copies of the table's rows for tokens 320 and 1125 (as stored: f16 rounds them).
                TensorData table = weights.get(NetworkLayout.TEXT_PREFIX + "embeddings.token_embedding.weight");
                float[] extra = new float[2 * d];
                int[] copied = {320, 1125};
                for (int r = 0; r < 2; r++) {
                    for (int i = 0; i < d; i++) {
                        long at = (long) copied[r] * d + i;
                        extra[r * d + i] = dtype == DType.F32 ? table.data().getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, at)
                                : Float.float16ToFloat(table.data().getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, at));
                    }
                }
                int[] plain = new int[2 * 77], withExtra = new int[2 * 77];
                for (int i = 0; i < plain.length; i++) plain[i] = withExtra[i] = 49407;
                plain[1] = 320;
                plain[2] = 1125;
                plain[77 + 5] = 1125;
                withExtra[1] = vocab;
                withExtra[2] = vocab + 1;
                withExtra[77 + 5] = vocab + 1;
                assertArrayEquals(text.encode(plain, 2, 77, 1), text.encode(withExtra, 2, 77, 1, extra),
                        "an extra row equal to a token's row encodes exactly as that token (" + dtype + ")");
                // A different vector changes the hidden states from its position on (causal attention) only.
                float[] other = extra.clone();
                for (int i = 0; i < d; i++) other[d + i] += 0.5f;
                float[] a = text.encode(withExtra, 2, 77, 1, extra), b = text.encode(withExtra, 2, 77, 1, other);
                assertArrayEquals(Arrays.copyOfRange(a, 0, 2 * d), Arrays.copyOfRange(b, 0, 2 * d), "positions before it are unchanged");
                assertFalse(Arrays.equals(Arrays.copyOfRange(a, 2 * d, 3 * d), Arrays.copyOfRange(b, 2 * d, 3 * d)));
                int[] beyond = withExtra.clone();
                beyond[3] = vocab + 2;
                NativeException e = assertThrows(NativeException.class, () -> text.encode(beyond, 2, 77, 1, extra));
                assertTrue(e.getMessage().contains("extra embeddings"), e.getMessage());
            }
        }
    }
}
