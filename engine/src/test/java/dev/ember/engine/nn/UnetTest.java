package dev.ember.engine.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
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
import dev.ember.engine.model.UnetConfig;
import dev.ember.engine.reference.Ops;
import dev.ember.engine.reference.UnetReference;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The native UNet against the float64 {@link UnetReference} on tiny configs, plus its API contract. */
class UnetTest {
    private static final long SEED = 20260101L;
    /** SD 2.x shape on a tiny scale: head width instead of head count, linear proj_in/proj_out, context 24. */
    private static final UnetConfig TINY_SD2 = new UnetConfig(4, 4, 32, 1, new int[] {1, 2, 2}, 0b011, 0, 16, 1, 24, true, 32);

    private static NativeContext context;
    /**
     * Same input, different batch or thread count: llamafile's blocked kernels and ggml's per-dot fallback (taken for 1-column products and
     * small rows) sum in different orders, so the split of work between them may move results by ~1e-6 relative;
     * cross-talk between batch elements or threads would show as errors of 1e-3 and more.
     */
    private static final double CONSISTENCY = 1e-5;

    /** One thread: on a shared, oversubscribed machine ggml's spinning workers make 2 threads ~20x slower. */
    @BeforeAll
    static void openContext() {
        context = new NativeContext(new NativeContext.Options(1, -1, false, false));
    }

    @AfterAll
    static void closeContext() {
        context.close();
    }

    static StateDict weights(UnetConfig config, DType dtype) {
        return SyntheticWeights.generate(NetworkLayout.unet(config), SEED, dtype, Arena.ofShared());
    }

    static float[] gaussian(int n, long seed) {
        Random r = new Random(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian();
        return a;
    }

    /** Inputs of one case: latent [n, 4, h, w], timesteps [n], context [n, tokens, contextDim]. */
    record Case(int batch, int height, int width, float[] latent, float[] timesteps, float[] context, int tokens) {
        static Case of(UnetConfig c, int batch, int height, int width, int tokens, float[] timesteps, long seed) {
            return new Case(batch, height, width, gaussian(batch * c.inChannels() * height * width, seed), timesteps,
                    gaussian(batch * tokens * c.contextDim(), seed + 1), tokens);
        }

        float[] run(Unet unet) {
            return unet.forward(latent, batch, height, width, timesteps, context, tokens);
        }

        double[] reference(UnetConfig config, StateDict weights) {
            return new UnetReference(weights, config.numHeads(), config.headDim()).forward(latent, batch, height, width, timesteps, context, tokens);
        }
    }

    private static float[] run(UnetConfig config, StateDict weights, int weightType, Case k) {
        try (Unet unet = new Unet(context, config, weights, weightType)) {
            return k.run(unet);
        }
    }

    private static double report(String what, float[] actual, double[] expected) {
        double err = Ops.relativeL2(actual, expected);
        System.out.printf("UNet %s: relative L2 %.3g%n", what, err);
        return err;
    }

    private static void assertWithin(double bound, double err, String what) {
        assertTrue(err <= bound, what + ": relative L2 " + err + " > " + bound);
    }

    @Test
    void f32WeightsMatchTheReference() {
        try (StateDict w = weights(UnetConfig.TINY, DType.F32)) {
            Case square = Case.of(UnetConfig.TINY, 2, 8, 8, 77, new float[] {999, 1}, 1);
            double e1 = report("f32 2x4x8x8, 77 tokens", run(UnetConfig.TINY, w, ember_h.EMBER_WEIGHT_F32(), square), square.reference(UnetConfig.TINY, w));
            assertWithin(1e-4, e1, "f32 square");
            Case wide = Case.of(UnetConfig.TINY, 2, 8, 16, 13, new float[] {500.5f, 0}, 2);
            double e2 = report("f32 2x4x8x16, 13 tokens", run(UnetConfig.TINY, w, ember_h.EMBER_WEIGHT_F32(), wide), wide.reference(UnetConfig.TINY, w));
            assertWithin(1e-4, e2, "f32 non-square");
            // Latents that do not halve evenly (images that are multiples of 8 but not of 64): 9x6 becomes
            // 5x3 then 3x2 on the way down, and upsampling must land on 5x3 and 9x6 again.
            Case odd = Case.of(UnetConfig.TINY, 1, 9, 6, 5, new float[] {250}, 3);
            double e3 = report("f32 1x4x9x6, 5 tokens", run(UnetConfig.TINY, w, ember_h.EMBER_WEIGHT_F32(), odd), odd.reference(UnetConfig.TINY, w));
            assertWithin(1e-4, e3, "f32 odd sizes");
        }
    }

    @Test
    void f16WeightsMatchTheReferenceOnTheSameRoundedWeights() {
        // Weights made in f16, so the reference sees exactly the values the device holds: only compute differs.
        try (StateDict w = weights(UnetConfig.TINY, DType.F16)) {
            Case k = Case.of(UnetConfig.TINY, 2, 8, 8, 77, new float[] {999, 1}, 3);
            double err = report("f16 2x4x8x8", run(UnetConfig.TINY, w, ember_h.EMBER_WEIGHT_F16(), k), k.reference(UnetConfig.TINY, w));
            assertWithin(2e-3, err, "f16");
        }
    }

    @Test
    void q8WeightsMatchTheReference() {
        try (StateDict w = weights(UnetConfig.TINY, DType.F32); Arena arena = Arena.ofConfined()) {
            Case k = Case.of(UnetConfig.TINY, 2, 8, 8, 77, new float[] {999, 1}, 4);
            float[] actual = run(UnetConfig.TINY, w, ember_h.EMBER_WEIGHT_Q8_0(), k);
            // Compute precision alone: the reference on the values the device holds (q8_0 blocks where rows
            // allow, f16 for conv kernels). The f16 3x3 convolutions round their inputs, as in f16 mode.
            StateDict onDevice = asStoredForQ8(UnetConfig.TINY, w, arena);
            assertWithin(2e-3, report("q8_0 vs reference on the dequantised weights", actual, k.reference(UnetConfig.TINY, onDevice)), "q8_0 compute");
            // Against the unquantised weights (design bound 1e-2). With every linear layer q8_0 (ggml's rounding)
            // the weights alone cost 1.12e-2 to 1.25e-2 over eight inputs on this tiny random network; with the
            // attention projections kept f16 (model_common.h's tensor_role) and the searched q8_0 scale,
            // 6.5e-3 to 8.3e-3 (docs/design.md, "Weight types").
            double err = report("q8_0 vs unquantised reference", actual, k.reference(UnetConfig.TINY, w));
            assertWithin(1e-2, err, "q8_0");
        }
    }

    @Test
    void sd2StyleConfigMatchesTheReference() {
        try (StateDict w = weights(TINY_SD2, DType.F32)) {
            Case k = Case.of(TINY_SD2, 2, 16, 8, 9, new float[] {999, 1}, 5);
            double err = report("sd2-tiny f32 2x4x16x8, 9 tokens", run(TINY_SD2, w, ember_h.EMBER_WEIGHT_F32(), k), k.reference(TINY_SD2, w));
            assertWithin(1e-4, err, "sd2-tiny f32");
        }
        try (StateDict w = weights(TINY_SD2, DType.F16)) {
            Case k = Case.of(TINY_SD2, 1, 8, 8, 5, new float[] {250}, 6);
            double err = report("sd2-tiny f16 1x4x8x8, 5 tokens", run(TINY_SD2, w, ember_h.EMBER_WEIGHT_F16(), k), k.reference(TINY_SD2, w));
            assertWithin(2e-3, err, "sd2-tiny f16");
        }
    }

    @Test
    void sdStructuredConfigMatchesTheReference() {
        // SD 1.x's block structure (4 levels, 2 ResBlocks each, attention on the first three, 8 heads) at
        // small widths, with two transformer blocks per SpatialTransformer.
        UnetConfig c = new UnetConfig(4, 4, 32, 2, new int[] {1, 2, 4, 4}, 0b0111, 8, 0, 2, 32, false, 32);
        try (StateDict w = weights(c, DType.F32);
             Unet unet = new Unet(context, c, w, ember_h.EMBER_WEIGHT_F32())) {
            assertEquals(NetworkLayout.unet(c).stream().mapToLong(TensorSpec::elementCount).sum(), unet.stats().parameters());
            Case k = Case.of(c, 1, 16, 8, 6, new float[] {321}, 12);
            double err = report("sd-structured f32 1x4x16x8, 6 tokens", k.run(unet), k.reference(c, w));
            assertWithin(1e-4, err, "sd-structured f32");
        }
    }

    @Test
    void flashAttentionMatchesTheReference() {
        // ggml_flash_attn_ext takes K and V in f16: the same order of error as f16 weights.
        try (StateDict w = weights(UnetConfig.TINY, DType.F32);
             NativeContext flash = new NativeContext(new NativeContext.Options(1, -1, true, false));
             Unet unet = new Unet(flash, UnetConfig.TINY, w, ember_h.EMBER_WEIGHT_F32())) {
            Case k = Case.of(UnetConfig.TINY, 2, 8, 8, 77, new float[] {999, 1}, 13);
            assertWithin(2e-3, report("flash attention f32 2x4x8x8", k.run(unet), k.reference(UnetConfig.TINY, w)), "flash attention");
        }
    }

    @Test
    void automaticFlashAttentionIsOnExactlyWhenWeightsAreNotF32() {
        // FlashAttention.AUTO (the native default): f32 weights take the exact path, anything else the fused one.
        Case k = Case.of(UnetConfig.TINY, 2, 8, 8, 77, new float[] {999, 1}, 14);
        try (StateDict w = weights(UnetConfig.TINY, DType.F32);
             NativeContext auto = new NativeContext(new NativeContext.Options(1, -1, FlashAttention.AUTO, false, false));
             NativeContext on = new NativeContext(new NativeContext.Options(1, -1, true, false))) {
            for (int type : new int[] {ember_h.EMBER_WEIGHT_F32(), ember_h.EMBER_WEIGHT_F16(), ember_h.EMBER_WEIGHT_Q8_0()}) {
                float[] automatic, fused, exact;
                try (Unet u = new Unet(auto, UnetConfig.TINY, w, type)) {
                    automatic = k.run(u);
                }
                try (Unet u = new Unet(on, UnetConfig.TINY, w, type)) {
                    fused = k.run(u);
                }
                try (Unet u = new Unet(context, UnetConfig.TINY, w, type)) {
                    exact = k.run(u);
                }
                boolean f32 = type == ember_h.EMBER_WEIGHT_F32();
                assertArrayEquals(f32 ? exact : fused, automatic, 0f, "weight type " + type);
                assertFalse(Arrays.equals(fused, exact), "the two paths must differ for the check to mean anything (type " + type + ")");
            }
        }
    }

    @Test
    void oneAndTwoThreadsAgree() {
        try (StateDict w = weights(UnetConfig.TINY, DType.F32);
             NativeContext one = new NativeContext(new NativeContext.Options(1, -1, false, false));
             NativeContext two = new NativeContext(new NativeContext.Options(2, -1, false, false));
             Unet a = new Unet(one, UnetConfig.TINY, w, ember_h.EMBER_WEIGHT_F32());
             Unet b = new Unet(two, UnetConfig.TINY, w, ember_h.EMBER_WEIGHT_F32())) {
            Case k = Case.of(UnetConfig.TINY, 2, 8, 8, 20, new float[] {999, 1}, 7);
            float[] x = k.run(a), y = k.run(b);
            double[] yd = new double[y.length];
            for (int i = 0; i < y.length; i++) yd[i] = y[i];
            assertWithin(CONSISTENCY, report("1 vs 2 threads", x, yd), "threads");
        }
    }

    @Test
    void batchElementsAreIndependent() {
        try (StateDict w = weights(UnetConfig.TINY, DType.F32);
             Unet unet = new Unet(context, UnetConfig.TINY, w, ember_h.EMBER_WEIGHT_F32())) {
            UnetConfig c = UnetConfig.TINY;
            Case both = Case.of(c, 2, 8, 8, 10, new float[] {999, 1}, 8);
            float[] together = both.run(unet);
            int latentPer = c.inChannels() * 64, contextPer = 10 * c.contextDim(), outPer = c.outChannels() * 64;
            for (int b = 0; b < 2; b++) {
                Case single = new Case(1, 8, 8, Arrays.copyOfRange(both.latent, b * latentPer, (b + 1) * latentPer),
                        new float[] {both.timesteps[b]}, Arrays.copyOfRange(both.context, b * contextPer, (b + 1) * contextPer), 10);
                float[] alone = single.run(unet);
                float[] part = Arrays.copyOfRange(together, b * outPer, (b + 1) * outPer);
                double[] ref = new double[alone.length];
                for (int i = 0; i < ref.length; i++) ref[i] = alone[i];
                assertWithin(CONSISTENCY, report("batch element " + b + " vs alone", part, ref), "batch element " + b);
            }
            assertEquals(2, unet.stats().graphs(), "one graph per input shape");
        }
    }

    @Test
    void segmentForwardEqualsArrayForward() {
        try (StateDict w = weights(UnetConfig.TINY, DType.F32);
             Unet unet = new Unet(context, UnetConfig.TINY, w, ember_h.EMBER_WEIGHT_F32());
             Arena arena = Arena.ofConfined()) {
            Case k = Case.of(UnetConfig.TINY, 1, 8, 12, 7, new float[] {42}, 9);
            float[] expected = k.run(unet);
            MemorySegment out = arena.allocate(ValueLayout.JAVA_FLOAT, expected.length);
            unet.forward(arena.allocateFrom(ValueLayout.JAVA_FLOAT, k.latent), 1, 8, 12, arena.allocateFrom(ValueLayout.JAVA_FLOAT, k.timesteps),
                    arena.allocateFrom(ValueLayout.JAVA_FLOAT, k.context), 7, out);
            assertArrayEquals(expected, out.toArray(ValueLayout.JAVA_FLOAT));
            // Same shape again: the cached graph is reused, and gives the same numbers.
            assertArrayEquals(expected, k.run(unet));
            assertEquals(1, unet.stats().graphs());
        }
    }

    @Test
    void missingTensorIsNamed() {
        try (StateDict w = weights(UnetConfig.TINY, DType.F32)) {
            String name = NetworkLayout.UNET_PREFIX + "middle_block.1.transformer_blocks.0.attn2.to_k.weight";
            Map<String, TensorData> rest = new LinkedHashMap<>(w.tensors());
            rest.remove(name);
            StateDict missing = new StateDict(rest, Arena.global());
            NativeException e = assertThrows(NativeException.class, () -> new Unet(context, UnetConfig.TINY, missing, ember_h.EMBER_WEIGHT_F32()));
            assertTrue(e.getMessage().contains(name), e.getMessage());
            assertEquals(ember_h.EMBER_ERROR_MODEL(), e.status());
        }
    }

    @Test
    void wrongShapeIsNamed() {
        try (StateDict w = weights(UnetConfig.TINY, DType.F32)) {
            String name = NetworkLayout.UNET_PREFIX + "output_blocks.2.0.skip_connection.weight";
            TensorData t = w.get(name);
            long[] shape = t.shape();  // [64, 128, 1, 1] -> [64, 64, 2, 1]: same bytes, wrong shape
            Map<String, TensorData> all = new LinkedHashMap<>(w.tensors());
            all.put(name, t.reshaped(shape[0], shape[1] / 2, 2, 1));
            StateDict bad = new StateDict(all, Arena.global());
            NativeException e = assertThrows(NativeException.class, () -> new Unet(context, UnetConfig.TINY, bad, ember_h.EMBER_WEIGHT_F32()));
            assertTrue(e.getMessage().contains(name), e.getMessage());
            assertTrue(e.getMessage().contains(Arrays.toString(shape)), e.getMessage());
        }
    }

    @Test
    void statsReportWeightsComputeAndParameters() {
        List<TensorSpec> specs = NetworkLayout.unet(UnetConfig.TINY);
        long parameters = specs.stream().mapToLong(TensorSpec::elementCount).sum();
        try (StateDict w = weights(UnetConfig.TINY, DType.F32)) {
            try (Unet unet = new Unet(context, UnetConfig.TINY, w, ember_h.EMBER_WEIGHT_F32())) {
                NetworkStats before = unet.stats();
                assertEquals(parameters, before.parameters());
                assertEquals(ember_h.EMBER_WEIGHT_F32(), before.weightType());
                assertTrue(before.weightBytes() >= parameters * 4 && before.weightBytes() < parameters * 4 + specs.size() * 64L + 4096,
                        "weight bytes " + before.weightBytes() + " for " + parameters + " f32 parameters");
                assertEquals(0, before.computeBytes());
                assertEquals(0, before.graphs());
                Case.of(UnetConfig.TINY, 1, 8, 8, 4, new float[] {1}, 10).run(unet);
                NetworkStats after = unet.stats();
                assertTrue(after.computeBytes() > 0, "compute bytes after a forward");
                assertEquals(1, after.graphs());
                Case.of(UnetConfig.TINY, 2, 16, 16, 4, new float[] {1, 2}, 11).run(unet);
                assertTrue(unet.stats().computeBytes() > after.computeBytes(), "a larger graph reserves more");
                assertEquals(2, unet.stats().graphs());
            }
            try (Unet q8 = new Unet(context, UnetConfig.TINY, w, ember_h.EMBER_WEIGHT_Q8_0())) {
                NetworkStats s = q8.stats();
                assertEquals(parameters, s.parameters());
                assertEquals(ember_h.EMBER_WEIGHT_Q8_0(), s.weightType());
                assertTrue(s.weightBytes() < parameters * 2, "q8_0 with f16 conv kernels is smaller than f16: " + s.weightBytes());
            }
        }
    }

    @Test
    void argumentsAndLifecycleAreChecked() {
        try (StateDict w = weights(UnetConfig.TINY, DType.F32)) {
            Unet unet = new Unet(context, UnetConfig.TINY, w, ember_h.EMBER_WEIGHT_F32());
            float[] latent = new float[4 * 6 * 8], t = {1}, ctx = new float[3 * 32];
            assertThrows(IllegalArgumentException.class, () -> unet.forward(latent, 1, 0, 8, t, ctx, 3));
            assertThrows(IllegalArgumentException.class, () -> unet.forward(new float[4 * 64], 1, 8, 8, t, new float[5], 3));
            assertThrows(IllegalArgumentException.class, () -> unet.forward(new float[4 * 64], 1, 8, 8, new float[2], ctx, 3));
            unet.close();
            unet.close();  // idempotent
            assertThrows(IllegalStateException.class, () -> unet.forward(new float[4 * 64], 1, 8, 8, t, ctx, 3));
            assertThrows(IllegalStateException.class, unet::stats);
        }
    }

    // ---- what the device holds with EMBER_WEIGHT_Q8_0 (model_common.cpp's rule, quantize.h's rounding) ----------

    /**
     * Linear weights as q8_0 (rows split into 32-blocks), except the attention projections; those and the
     * conv kernels as f16.
     */
    static StateDict asStoredForQ8(UnetConfig config, StateDict source, Arena arena) {
        Map<String, TensorData> out = new LinkedHashMap<>();
        for (TensorSpec spec : NetworkLayout.unet(config)) {
            TensorData t = source.get(spec.name());
            int n = Math.toIntExact(t.elementCount());
            float[] v = t.data().toArray(ValueLayout.JAVA_FLOAT);
            if (spec.kind() == TensorSpec.Kind.WEIGHT) {
                long[] shape = spec.shape();
                if (shape.length == 2 && shape[1] % 32 == 0 && !isAttentionProjection(spec.name())) v = Q8Rounding.roundTrip(v);
                else for (int i = 0; i < n; i++) v[i] = Float.float16ToFloat(Float.floatToFloat16(v[i]));
            }
            out.put(spec.name(), new TensorData(spec.name(), DType.F32, spec.shape(), arena.allocateFrom(ValueLayout.JAVA_FLOAT, v)));
        }
        return new StateDict(out, Arena.global());
    }

    static boolean isAttentionProjection(String name) {
        return name.matches(".*\\.attn[12]\\.(to_q|to_k|to_v|to_out\\.0)\\.weight") || name.matches(".*\\.proj_(in|out)\\.weight");
    }
}
