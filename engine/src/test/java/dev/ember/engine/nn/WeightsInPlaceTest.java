package dev.ember.engine.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ember.bindings.ember_h;
import dev.ember.engine.model.DType;
import dev.ember.engine.model.NetworkLayout;
import dev.ember.engine.model.StateDict;
import dev.ember.engine.model.SyntheticWeights;
import dev.ember.engine.model.TensorData;
import dev.ember.engine.model.TensorSpec;
import dev.ember.engine.model.TextEncoderConfig;
import dev.ember.engine.model.UnetConfig;
import dev.ember.engine.model.VaeConfig;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code weights_in_place}: networks that use the caller's tensor memory compute exactly what networks with copied
 * weights compute, report the same weight bytes, and really read the caller's memory (a change to it after loading
 * shows in their output and not in a copied network's). The weights lie at addresses that are not 32-byte aligned.
 */
class WeightsInPlaceTest {
    private static final long SEED = 424242L;

    private static NativeContext copied;
    private static NativeContext inPlace;

    @BeforeAll
    static void open() {
        NativeContext.Options options = new NativeContext.Options(1, -1, false, false);
        assertFalse(options.weightsInPlace(), "the existing constructors leave weights in place off");
        copied = new NativeContext(options);
        inPlace = new NativeContext(options.withWeightsInPlace(true));
    }

    @AfterAll
    static void close() {
        copied.close();
        inPlace.close();
    }

    /**
     * The same tensors copied into one 32-byte aligned segment, none of them starting on a 32-byte boundary: the
     * first at offset 1 (not even aligned to its element, so libember must copy it), the others alternately at 8 and
     * 8 + one element past a 32-byte boundary.
     */
    private static StateDict shifted(StateDict source, Arena arena) {
        long total = 0;
        for (TensorData t : source.tensors().values()) total += t.data().byteSize() + 64;
        MemorySegment block = arena.allocate(total, 32);
        Map<String, TensorData> out = new LinkedHashMap<>();
        long position = 0;
        int i = 0;
        for (TensorData t : source.tensors().values()) {
            long offset = i == 0 ? 1 : 8 + (i % 2) * t.dtype().byteSize();
            long start = (position + 31) / 32 * 32 + offset;
            assertTrue(start % 32 != 0);
            MemorySegment data = block.asSlice(start, t.data().byteSize());
            data.copyFrom(t.data());
            out.put(t.name(), new TensorData(t.name(), t.dtype(), t.shape(), data));
            position = start + t.data().byteSize();
            i++;
        }
        return new StateDict(out, arena);
    }

    /** Zeroes one tensor's memory (after the networks loaded from it). */
    private static void zero(StateDict weights, String suffix) {
        List<TensorData> matches = weights.tensors().values().stream().filter(t -> t.name().endsWith(suffix)).toList();
        assertEquals(1, matches.size(), suffix);
        matches.getFirst().data().fill((byte) 0);
    }

    private static float[] gaussian(int n, long seed) {
        Random r = new Random(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian();
        return a;
    }

    /**
     * Loads a network from the original weights (copied), and from the shifted ones both copied and in place; checks
     * identical outputs and stats, then zeroes {@code changed} in the shifted memory: only the in-place network's
     * output moves.
     */
    private static <N extends AutoCloseable> void check(String what, List<TensorSpec> specs, DType dtype, String changed,
                                                        Loader<N> load, Function<N, float[]> run, Function<N, NetworkStats> stats)
            throws Exception {
        try (StateDict original = SyntheticWeights.generate(specs, SEED, dtype, Arena.ofShared());
             StateDict moved = shifted(original, Arena.ofShared());
             N reference = load.load(copied, original);
             N copy = load.load(copied, moved);
             N placed = load.load(inPlace, moved)) {
            float[] expected = run.apply(reference);
            assertArrayEquals(expected, run.apply(copy), what + ": copied from shifted memory");
            assertArrayEquals(expected, run.apply(placed), what + ": in place");
            NetworkStats a = stats.apply(reference), b = stats.apply(placed);
            assertEquals(a.weightBytes(), b.weightBytes(), what + ": weight bytes");
            assertEquals(a.parameters(), b.parameters(), what + ": parameters");
            assertEquals(a.weightType(), b.weightType(), what + ": weight type");

            zero(moved, changed);
            assertArrayEquals(expected, run.apply(copy), what + ": a copied network does not see its source change");
            float[] after = run.apply(placed);
            boolean differs = false;
            for (int i = 0; i < after.length && !differs; i++) differs = after[i] != expected[i];
            assertTrue(differs, what + ": the in-place network reads the caller's memory");
        }
    }

    @FunctionalInterface
    private interface Loader<N> {
        N load(NativeContext context, StateDict weights);
    }

    private static void textEncoder(DType dtype) throws Exception {
        TextEncoderConfig c = TextEncoderConfig.TINY;
        int[] tokens = {49406, 320, 1125, 539, 320, 2368, 49407, 49407, 49406, 1929, 49407, 0, 0, 0};
        // The final layer's fc2 kernel: f32 from an f32 file, f16 from an f16 one, so in place either way.
        check("text encoder " + dtype, NetworkLayout.textEncoder(c), dtype, "layers." + (c.numLayers() - 1) + ".mlp.fc2.weight",
                (ctx, w) -> new TextEncoder(ctx, c, w, ember_h.EMBER_WEIGHT_AUTO()),
                e -> e.encode(tokens, 2, 7, 1), TextEncoder::stats);
    }

    private static void unet(DType dtype, int weightType) throws Exception {
        UnetConfig c = UnetConfig.TINY;
        int h = 8, w = 8, tokens = 5;
        float[] latent = gaussian(2 * c.inChannels() * h * w, 1);
        float[] context = gaussian(2 * tokens * c.contextDim(), 2);
        // attn1.to_q stays f16 under q8_0 (attention projections are never block-quantised), so it is in place in every case here.
        String changed = "input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight";
        check("UNet " + dtype + " weight type " + weightType, NetworkLayout.unet(c), dtype, changed,
                (ctx, weights) -> new Unet(ctx, c, weights, weightType),
                u -> u.forward(latent, 2, h, w, new float[] {999, 1}, context, tokens), Unet::stats);
    }

    private static void vae(DType dtype) throws Exception {
        VaeConfig c = VaeConfig.TINY;
        int f = c.downscale();
        float[] image = gaussian(c.imageChannels() * 16 * 16, 3);
        float[] latent = gaussian(c.latentChannels() * 2 * 2, 4);
        check("VAE " + dtype, NetworkLayout.vae(c), dtype, "decoder.conv_out.weight",
                (ctx, weights) -> new Vae(ctx, c, weights, ember_h.EMBER_WEIGHT_AUTO(), Vae.Parts.BOTH),
                v -> {
                    float[] moments = v.encode(image, 1, 16, 16);
                    float[] decoded = v.decode(latent, 1, 2, 2);
                    float[] both = new float[moments.length + decoded.length];
                    System.arraycopy(moments, 0, both, 0, moments.length);
                    System.arraycopy(decoded, 0, both, moments.length, decoded.length);
                    assertEquals(c.imageChannels() * 2 * f * 2 * f, decoded.length);
                    return both;
                }, Vae::stats);
    }

    @Test
    void textEncoderF32() throws Exception {
        textEncoder(DType.F32);
    }

    @Test
    void textEncoderF16() throws Exception {
        textEncoder(DType.F16);
    }

    @Test
    void unetF32() throws Exception {
        unet(DType.F32, ember_h.EMBER_WEIGHT_AUTO());
    }

    @Test
    void unetF16() throws Exception {
        unet(DType.F16, ember_h.EMBER_WEIGHT_AUTO());
    }

    /** f16 file, q8_0 weights: quantised kernels are copied, f16 attention projections used in place, in one network. */
    @Test
    void unetF16FileWithQ8Weights() throws Exception {
        unet(DType.F16, ember_h.EMBER_WEIGHT_Q8_0());
    }

    @Test
    void vaeF32() throws Exception {
        vae(DType.F32);
    }

    @Test
    void vaeF16() throws Exception {
        vae(DType.F16);
    }
}
