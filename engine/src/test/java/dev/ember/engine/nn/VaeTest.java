package dev.ember.engine.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ember.bindings.ember_h;
import dev.ember.engine.NativeException;
import dev.ember.engine.model.DType;
import dev.ember.engine.model.NetworkLayout;
import dev.ember.engine.model.StateDict;
import dev.ember.engine.model.SyntheticWeights;
import dev.ember.engine.model.TensorData;
import dev.ember.engine.model.TensorSpec;
import dev.ember.engine.model.VaeConfig;
import dev.ember.engine.reference.Ops;
import dev.ember.engine.reference.VaeReference;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The native VAE against the float64 {@link VaeReference} on the tiny preset (8x downscale, 32/64
 * channels), for f32, f16 and q8_0 weights, plus loading, threading, batching and error behaviour.
 */
class VaeTest {
    /**
     * Same input, different batch or thread count: llamafile's blocked kernels and ggml's per-dot fallback (taken for 1-column products and
     * small rows) sum in different orders, so the split of work between them may move results by ~1e-6 relative;
     * cross-talk between batch elements or threads would show as errors of 1e-3 and more.
     */
    private static final double CONSISTENCY = 1e-5;

    static final VaeConfig TINY = VaeConfig.TINY;
    static final long SEED = 1234;
    static final double F32_BOUND = 1e-4, F16_BOUND = 2e-3, Q8_BOUND = 1e-2;

    static NativeContext context;
    static StateDict f32Weights;
    static StateDict f16Weights;

    @BeforeAll
    static void setUp() {
        context = new NativeContext(new NativeContext.Options(2, -1, false, false));
        f32Weights = SyntheticWeights.generate(NetworkLayout.vae(TINY), SEED, DType.F32, Arena.ofShared());
        f16Weights = SyntheticWeights.generate(NetworkLayout.vae(TINY), SEED, DType.F16, Arena.ofShared());
    }

    @AfterAll
    static void tearDown() {
        if (f32Weights != null) f32Weights.close();
        if (f16Weights != null) f16Weights.close();
        if (context != null) context.close();
    }

    static float[] image(long seed, int n, int h, int w) {
        Random r = new Random(seed);
        float[] x = new float[n * TINY.imageChannels() * h * w];
        for (int i = 0; i < x.length; i++) x[i] = (float) (2 * r.nextDouble() - 1);
        return x;
    }

    static float[] latent(long seed, int n, int h, int w) {
        Random r = new Random(seed);
        float[] x = new float[n * TINY.latentChannels() * h * w];
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
        return x;
    }

    /** Encode and decode of several shapes (batch 2, square; batch 1, non-square) within {@code bound}. */
    static void checkAgainstReference(StateDict weights, StateDict referenceWeights, int weightType, double bound, String label) {
        checkAgainstReference(context, weights, referenceWeights, weightType, bound, label);
    }

    static void checkAgainstReference(NativeContext on, StateDict weights, StateDict referenceWeights, int weightType, double bound,
                                      String label) {
        VaeReference ref = new VaeReference(referenceWeights);
        try (Vae vae = new Vae(on, TINY, weights, weightType, Vae.Parts.BOTH)) {
            int[][] images = {{2, 32, 32}, {1, 16, 32}};
            for (int[] s : images) {
                float[] x = image(s[0] * 100 + s[1] + s[2], s[0], s[1], s[2]);
                float[] got = vae.encode(x, s[0], s[1], s[2]);
                double err = Ops.relativeL2(got, ref.encode(x, s[0], s[1], s[2]));
                System.out.printf("VAE %s encode %s: relative L2 %.3e%n", label, Arrays.toString(s), err);
                assertTrue(err <= bound, label + " encode " + Arrays.toString(s) + ": relative L2 " + err + " > " + bound);
            }
            int[][] latents = {{2, 4, 4}, {1, 2, 4}, {1, 3, 5}};
            for (int[] s : latents) {
                float[] z = latent(s[0] * 100 + s[1] + s[2], s[0], s[1], s[2]);
                float[] got = vae.decode(z, s[0], s[1], s[2]);
                assertEquals(s[0] * 3 * s[1] * 8 * s[2] * 8, got.length);
                double err = Ops.relativeL2(got, ref.decode(z, s[0], s[1], s[2]));
                System.out.printf("VAE %s decode %s: relative L2 %.3e%n", label, Arrays.toString(s), err);
                assertTrue(err <= bound, label + " decode " + Arrays.toString(s) + ": relative L2 " + err + " > " + bound);
            }
        }
    }

    @Test
    void f32WeightsMatchTheReference() {
        checkAgainstReference(f32Weights, f32Weights, ember_h.EMBER_WEIGHT_F32(), F32_BOUND, "f32");
    }

    @Test
    void f16WeightsMatchTheReferenceOnTheSameRoundedWeights() {
        checkAgainstReference(f16Weights, f16Weights, ember_h.EMBER_WEIGHT_F16(), F16_BOUND, "f16");
    }

    @Test
    void latentsOnePixelWideAreExactInF32AndNearTheBoundInF16() {
        // One latent pixel across: every 3x3 kernel is wider than the image at the first level, so the
        // im2col's edge handling is all there is (checked exactly in f32). In f16 the error grows on such
        // degenerate shapes because GroupNorm over a group of a few nearly equal values amplifies the f16
        // rounding of its input: measured 1.0e-3 to 2.1e-3 at 1x3 and up to 3.4e-2 at 1x1 over five
        // latents, against 0.85e-3 to 1.3e-3 from 2x2 up (0.9e-3 at 8x8). PyTorch's f16 has the same
        // conditioning; f32 weights keep everything f32.
        VaeReference ref32 = new VaeReference(f32Weights), ref16 = new VaeReference(f16Weights);
        try (Vae exact = new Vae(context, TINY, f32Weights, ember_h.EMBER_WEIGHT_F32(), Vae.Parts.DECODER);
             Vae half = new Vae(context, TINY, f16Weights, ember_h.EMBER_WEIGHT_F16(), Vae.Parts.DECODER)) {
            for (int[] s : new int[][] {{1, 1, 1}, {1, 1, 3}, {1, 3, 1}}) {
                float[] z = latent(s[1] * 10 + s[2] + 300, s[0], s[1], s[2]);
                double err = Ops.relativeL2(exact.decode(z, s[0], s[1], s[2]), ref32.decode(z, s[0], s[1], s[2]));
                System.out.printf("VAE f32 decode %s: relative L2 %.3e%n", Arrays.toString(s), err);
                assertTrue(err <= F32_BOUND, "f32 decode " + Arrays.toString(s) + ": " + err);
            }
            float[] z = latent(113, 1, 1, 3);
            double err = Ops.relativeL2(half.decode(z, 1, 1, 3), ref16.decode(z, 1, 1, 3));
            System.out.printf("VAE f16 decode [1, 1, 3]: relative L2 %.3e%n", err);
            assertTrue(err <= 2.5 * F16_BOUND, "f16 decode [1, 1, 3]: " + err);
        }
    }

    @Test
    void f16WeightsWithFlashAttentionMatchTheReference() {
        // The default for f16 weights (FlashAttention.AUTO): the mid-block attention with f16 K and V.
        try (NativeContext flash = new NativeContext(new NativeContext.Options(1, -1, true, false))) {
            checkAgainstReference(flash, f16Weights, f16Weights, ember_h.EMBER_WEIGHT_F16(), F16_BOUND, "f16 flash");
        }
    }

    @Test
    void q8WeightsMatchTheUnquantisedReference() {
        checkAgainstReference(f32Weights, f32Weights, ember_h.EMBER_WEIGHT_Q8_0(), Q8_BOUND, "q8_0");
        // Every VAE weight is a 4-D kernel, and the shared weight store quantises 4-D kernels only when
        // KW is a multiple of the q8_0 block: they all stay f16, and the stats say so.
        try (Vae vae = new Vae(context, TINY, f32Weights, ember_h.EMBER_WEIGHT_Q8_0(), Vae.Parts.DECODER)) {
            assertEquals(ember_h.EMBER_WEIGHT_F16(), vae.stats().weightType());
        }
    }

    @Test
    void f16StatsReportF16() {
        try (Vae vae = new Vae(context, TINY, f16Weights, ember_h.EMBER_WEIGHT_AUTO(), Vae.Parts.ENCODER)) {
            assertEquals(ember_h.EMBER_WEIGHT_F16(), vae.stats().weightType());
        }
    }

    @Test
    void autoKeepsF32AndStatsDescribeTheModel() {
        try (Vae vae = new Vae(context, TINY, f32Weights, ember_h.EMBER_WEIGHT_AUTO(), Vae.Parts.BOTH)) {
            NetworkStats before = vae.stats();
            long params = NetworkLayout.vae(TINY).stream().mapToLong(TensorSpec::elementCount).sum();
            assertEquals(params, before.parameters());
            assertEquals(ember_h.EMBER_WEIGHT_F32(), before.weightType());
            assertTrue(before.weightBytes() >= params * 4, "weight bytes " + before.weightBytes());
            assertEquals(0, before.graphs());
            vae.decode(latent(1, 1, 4, 4), 1, 4, 4);
            vae.decode(latent(2, 1, 4, 4), 1, 4, 4);
            vae.encode(image(3, 1, 32, 32), 1, 32, 32);
            NetworkStats after = vae.stats();
            assertEquals(2, after.graphs(), "one graph per direction and shape, reused");
            assertTrue(after.computeBytes() > 0);
        }
    }

    @Test
    void decoderOnlyLoadsWithoutEncoderTensorsAndRefusesToEncode() {
        try (StateDict decoderOnly = SyntheticWeights.generate(NetworkLayout.vaeDecoder(TINY), SEED, DType.F32, Arena.ofShared());
             Vae vae = new Vae(context, TINY, decoderOnly, ember_h.EMBER_WEIGHT_F32(), Vae.Parts.DECODER)) {
            float[] z = latent(7, 1, 4, 4);
            double err = Ops.relativeL2(vae.decode(z, 1, 4, 4), new VaeReference(f32Weights).decode(z, 1, 4, 4));
            assertTrue(err <= F32_BOUND, "decoder-only decode: " + err);
            NativeException e = assertThrows(NativeException.class, () -> vae.encode(image(1, 1, 32, 32), 1, 32, 32));
            assertEquals(ember_h.EMBER_ERROR_INVALID_ARGUMENT(), e.status());
            assertTrue(e.getMessage().contains("without its encoder"), e.getMessage());
        }
    }

    @Test
    void encoderOnlyLoadsWithoutDecoderTensors() {
        try (StateDict encoderOnly = SyntheticWeights.generate(NetworkLayout.vaeEncoder(TINY), SEED, DType.F32, Arena.ofShared());
             Vae vae = new Vae(context, TINY, encoderOnly, ember_h.EMBER_WEIGHT_F32(), Vae.Parts.ENCODER)) {
            float[] x = image(8, 1, 16, 16);
            double err = Ops.relativeL2(vae.encode(x, 1, 16, 16), new VaeReference(f32Weights).encode(x, 1, 16, 16));
            assertTrue(err <= F32_BOUND, "encoder-only encode: " + err);
            NativeException e = assertThrows(NativeException.class, () -> vae.decode(latent(1, 1, 2, 2), 1, 2, 2));
            assertTrue(e.getMessage().contains("without its decoder"), e.getMessage());
        }
    }

    @Test
    void largeImagesAreConvolvedInBands() {
        // libember cuts a convolution whose im2col exceeds 4 MiB into bands of output rows. A 128 x 128
        // image has 288 x 16384 floats (18 MiB) of im2col in its full-resolution 3x3 convolutions and
        // 288 x 4096 (4.5 MiB) in the stride-2 downsample; an 8 x 8 latent decodes through 64 x 64
        // convolutions with 4.5 MiB each. All must still match the reference.
        VaeReference ref = new VaeReference(f32Weights);
        try (Vae vae = new Vae(context, TINY, f32Weights, ember_h.EMBER_WEIGHT_F32(), Vae.Parts.BOTH)) {
            float[] x = image(41, 1, 128, 128);
            double encodeErr = Ops.relativeL2(vae.encode(x, 1, 128, 128), ref.encode(x, 1, 128, 128));
            long encodeCompute = vae.stats().computeBytes();
            float[] z = latent(42, 1, 8, 8);
            double decodeErr = Ops.relativeL2(vae.decode(z, 1, 8, 8), ref.decode(z, 1, 8, 8));
            System.out.printf("VAE f32 banded: encode [1, 128, 128] relative L2 %.3e, decode [1, 8, 8] %.3e, compute %.1f MiB%n",
                    encodeErr, decodeErr, encodeCompute / 1048576.0);
            assertTrue(encodeErr <= F32_BOUND, "banded encode: " + encodeErr);
            assertTrue(decodeErr <= F32_BOUND, "banded decode: " + decodeErr);
            long fullIm2col = 288L * 128 * 128 * 4;
            assertTrue(encodeCompute < fullIm2col, "compute bytes " + encodeCompute + " not below one unbanded im2col " + fullIm2col);
        }
    }

    @Test
    void f16BandsMatchTheReferenceForEveryBatchElement() {
        // f16 kernels take an f16 im2col (2 bytes per element): a 16 x 16 latent decodes through 128 x 128
        // convolutions with 9 MiB of im2col each, cut into bands, here for two batch elements (the second
        // element's bands start at its own offset in the input).
        VaeReference ref = new VaeReference(f16Weights);
        try (Vae vae = new Vae(context, TINY, f16Weights, ember_h.EMBER_WEIGHT_F16(), Vae.Parts.DECODER)) {
            float[] z = latent(43, 2, 16, 16);
            float[] actual = vae.decode(z, 2, 16, 16);
            double[] expected = ref.decode(z, 2, 16, 16);
            int half = actual.length / 2;
            double first = Ops.relativeL2(Arrays.copyOfRange(actual, 0, half), Arrays.copyOfRange(expected, 0, half));
            double second = Ops.relativeL2(Arrays.copyOfRange(actual, half, actual.length), Arrays.copyOfRange(expected, half, expected.length));
            System.out.printf("VAE f16 banded decode [2, 16, 16]: relative L2 %.3e / %.3e%n", first, second);
            assertTrue(first <= F16_BOUND, "first image: " + first);
            assertTrue(second <= F16_BOUND, "second image: " + second);
        }
    }

    @Test
    void oneAndTwoThreadsAgree() {
        float[] x = image(11, 1, 32, 32);
        float[] z = latent(12, 1, 4, 4);
        float[][] results = new float[4][];
        int i = 0;
        for (int threads : new int[] {1, 2}) {
            try (NativeContext ctx = new NativeContext(new NativeContext.Options(threads, -1, false, false));
                 Vae vae = new Vae(ctx, TINY, f32Weights, ember_h.EMBER_WEIGHT_F32(), Vae.Parts.BOTH)) {
                results[i++] = vae.encode(x, 1, 32, 32);
                results[i++] = vae.decode(z, 1, 4, 4);
            }
        }
        assertTrue(relative(results[0], results[2]) <= CONSISTENCY, "encode 1 vs 2 threads: " + relative(results[0], results[2]));
        assertTrue(relative(results[1], results[3]) <= CONSISTENCY, "decode 1 vs 2 threads: " + relative(results[1], results[3]));
    }

    @Test
    void batchElementsAreIndependent() {
        try (Vae vae = new Vae(context, TINY, f32Weights, ember_h.EMBER_WEIGHT_F32(), Vae.Parts.BOTH)) {
            float[] a = image(21, 1, 16, 24), b = image(22, 1, 16, 24);
            float[] both = vae.encode(concat(a, b), 2, 16, 24);
            float[] ea = vae.encode(a, 1, 16, 24), eb = vae.encode(b, 1, 16, 24);
            assertTrue(relative(Arrays.copyOfRange(both, 0, ea.length), ea) <= CONSISTENCY);
            assertTrue(relative(Arrays.copyOfRange(both, ea.length, both.length), eb) <= CONSISTENCY);

            float[] za = latent(23, 1, 2, 3), zb = latent(24, 1, 2, 3);
            float[] dboth = vae.decode(concat(za, zb), 2, 2, 3);
            float[] da = vae.decode(za, 1, 2, 3), db = vae.decode(zb, 1, 2, 3);
            assertTrue(relative(Arrays.copyOfRange(dboth, 0, da.length), da) <= CONSISTENCY);
            assertTrue(relative(Arrays.copyOfRange(dboth, da.length, dboth.length), db) <= CONSISTENCY);
        }
    }

    @Test
    void missingTensorIsNamed() {
        String missing = NetworkLayout.VAE_PREFIX + "decoder.mid.attn_1.q.weight";
        Map<String, TensorData> without = new LinkedHashMap<>(f32Weights.tensors());
        without.remove(missing);
        StateDict sd = new StateDict(without, Arena.global());
        NativeException e = assertThrows(NativeException.class,
                () -> new Vae(context, TINY, sd, ember_h.EMBER_WEIGHT_F32(), Vae.Parts.BOTH));
        assertEquals(ember_h.EMBER_ERROR_MODEL(), e.status());
        assertTrue(e.getMessage().contains("missing tensor " + missing), e.getMessage());
        // The encoder alone does not need it.
        try (Vae vae = new Vae(context, TINY, sd, ember_h.EMBER_WEIGHT_F32(), Vae.Parts.ENCODER)) {
            assertEquals(8, vae.encode(image(1, 1, 8, 8), 1, 8, 8).length);
        }
    }

    @Test
    void wrongShapeIsNamed() {
        String name = NetworkLayout.VAE_PREFIX + "encoder.conv_in.weight";
        Map<String, TensorData> changed = new LinkedHashMap<>(f32Weights.tensors());
        TensorData t = changed.get(name);
        changed.put(name, t.reshaped(t.dim(0), t.dim(1), 1, 9));
        StateDict sd = new StateDict(changed, Arena.global());
        NativeException e = assertThrows(NativeException.class,
                () -> new Vae(context, TINY, sd, ember_h.EMBER_WEIGHT_F32(), Vae.Parts.BOTH));
        assertEquals(ember_h.EMBER_ERROR_MODEL(), e.status());
        assertTrue(e.getMessage().contains(name) && e.getMessage().contains("[32, 3, 1, 9]"), e.getMessage());
    }

    @Test
    void sizesThatAreNotMultiplesOfTheDownscaleAreRejected() {
        try (Vae vae = new Vae(context, TINY, f32Weights, ember_h.EMBER_WEIGHT_F32(), Vae.Parts.BOTH)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> vae.encode(image(1, 1, 12, 16), 1, 12, 16));
            assertTrue(e.getMessage().contains("multiple of the VAE's downscale factor 8"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> vae.encode(image(1, 1, 16, 16), 1, 16, 20));
            assertThrows(IllegalArgumentException.class, () -> vae.decode(latent(1, 1, 2, 2), 1, 2, 3));
            assertThrows(IllegalArgumentException.class, () -> vae.decode(new float[0], 0, 2, 2));

            // The same checks natively, bypassing the Java ones.
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment in = arena.allocateFrom(ValueLayout.JAVA_FLOAT, image(1, 1, 12, 16));
                MemorySegment out = arena.allocate(ValueLayout.JAVA_FLOAT, 64);
                int status = ember_h.ember_vae_encode(vae.handle(), in, 1, 12, 16, out);
                assertEquals(ember_h.EMBER_ERROR_INVALID_ARGUMENT(), status);
                assertTrue(context.lastError().contains("12 x 16 is not a multiple of the VAE's downscale factor 8"), context.lastError());
                assertEquals(ember_h.EMBER_ERROR_INVALID_ARGUMENT(), ember_h.ember_vae_decode(vae.handle(), in, 1, 0, 2, out));
                assertEquals(ember_h.EMBER_ERROR_INVALID_ARGUMENT(), ember_h.ember_vae_encode(vae.handle(), MemorySegment.NULL, 1, 8, 8, out));
            }
        }
    }

    @Test
    void closeIsIdempotentAndUseAfterCloseFails() {
        Vae vae = new Vae(context, TINY, f32Weights, ember_h.EMBER_WEIGHT_F32(), Vae.Parts.DECODER);
        vae.close();
        vae.close();
        assertThrows(IllegalStateException.class, () -> vae.decode(latent(1, 1, 2, 2), 1, 2, 2));
        assertThrows(IllegalStateException.class, vae::stats);
    }

    static float[] concat(float[] a, float[] b) {
        float[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    static double relative(float[] a, float[] b) {
        double[] bd = new double[b.length];
        for (int i = 0; i < b.length; i++) bd[i] = b[i];
        return Ops.relativeL2(a, bd);
    }
}
