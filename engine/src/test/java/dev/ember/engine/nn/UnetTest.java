package dev.ember.engine.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
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
import dev.ember.engine.model.UnetConfig;
import dev.ember.engine.reference.Ops;
import dev.ember.engine.reference.UnetReference;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
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
    /** SD 2.x shape on a tiny scale: head width instead of head count, linear proj_in/proj_out. */
    private static final UnetConfig TINY_SD2 = new UnetConfig(4, 4, 32, 1, new int[] {1, 2, 2}, 0b011, 0, 16, 1, 24, true, 32);

    private static NativeContext context;

    @BeforeAll
    static void openContext() {
        context = new NativeContext(new NativeContext.Options(2, -1, false, true));
    }

    @AfterAll
    static void closeContext() {
        context.close();
    }

    private static StateDict weights(UnetConfig config, DType dtype) {
        return SyntheticWeights.generate(NetworkLayout.unet(config), SEED, dtype, Arena.ofShared());
    }

    private static float[] gaussian(int n, long seed, double scale) {
        Random r = new Random(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (r.nextGaussian() * scale);
        return a;
    }

    /** Inputs of one case: latent [n, 4, h, w], timesteps, context [n, tokens, contextDim]. */
    private record Case(int batch, int height, int width, float[] latent, float[] timesteps, float[] context, int tokens) {
        static Case of(UnetConfig c, int batch, int height, int width, int tokens, float[] timesteps, long seed) {
            return new Case(batch, height, width, gaussian(batch * c.inChannels() * height * width, seed, 1.0), timesteps,
                    gaussian(batch * tokens * c.contextDim(), seed + 1, 1.0), tokens);
        }
    }

    private static double error(UnetConfig config, StateDict nativeWeights, StateDict referenceWeights, int weightType, Case k) {
        float[] actual;
        try (Unet unet = new Unet(context, config, nativeWeights, weightType)) {
            actual = unet.forward(k.latent, k.batch, k.height, k.width, k.timesteps, k.context, k.tokens);
        }
        double[] expected = new UnetReference(config, referenceWeights).forward(k.latent, k.batch, k.height, k.width, k.timesteps, k.context, k.tokens);
        double err = Ops.relativeL2(actual, expected);
        System.out.printf("UNet %s weight type %d, %dx%dx%d, %d tokens: relative L2 %.3g%n",
                config.linearProjection() ? "sd2-tiny" : "tiny", weightType, k.batch, k.height, k.width, k.tokens, err);
        return err;
    }

    @Test
    void f32WeightsMatchTheReference() {
        try (StateDict w = weights(UnetConfig.TINY, DType.F32)) {
            Case square = Case.of(UnetConfig.TINY, 2, 8, 8, 77, new float[] {999, 1}, 1);
            assertTrue(error(UnetConfig.TINY, w, w, ember_h.EMBER_WEIGHT_F32(), square) <= 1e-4);
            Case wide = Case.of(UnetConfig.TINY, 2, 8, 16, 13, new float[] {500.5f, 0}, 2);
            assertTrue(error(UnetConfig.TINY, w, w, ember_h.EMBER_WEIGHT_F32(), wide) <= 1e-4);
        }
    }

    @Test
    void f16WeightsMatchTheReferenceOnTheSameRoundedWeights() {
        try (StateDict w = weights(UnetConfig.TINY, DType.F16)) {
            Case k = Case.of(UnetConfig.TINY, 2, 8, 8, 77, new float[] {999, 1}, 3);
            assertTrue(error(UnetConfig.TINY, w, w, ember_h.EMBER_WEIGHT_F16(), k) <= 2e-3);
        }
    }

    @Test
    void q8WeightsStayCloseToTheUnquantisedReference() {
        try (StateDict w = weights(UnetConfig.TINY, DType.F32)) {
            Case k = Case.of(UnetConfig.TINY, 2, 8, 8, 77, new float[] {999, 1}, 4);
            assertTrue(error(UnetConfig.TINY, w, w, ember_h.EMBER_WEIGHT_Q8_0(), k) <= 1e-2);
        }
    }

    @Test
    void sd2StyleConfigMatchesTheReference() {
        try (StateDict w = weights(TINY_SD2, DType.F32)) {
            Case k = Case.of(TINY_SD2, 2, 16, 8, 9, new float[] {999, 1}, 5);
            assertTrue(error(TINY_SD2, w, w, ember_h.EMBER_WEIGHT_F32(), k) <= 1e-4);
        }
    }
}
