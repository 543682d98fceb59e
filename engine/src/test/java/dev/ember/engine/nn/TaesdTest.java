package dev.ember.engine.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ember.bindings.ember_h;
import dev.ember.engine.NativeException;
import dev.ember.engine.model.DType;
import dev.ember.engine.model.StateDict;
import dev.ember.engine.model.SyntheticWeights;
import dev.ember.engine.model.TaesdConfig;
import dev.ember.engine.model.TaesdLayout;
import dev.ember.engine.model.TensorSpec;
import dev.ember.engine.reference.Ops;
import dev.ember.engine.reference.TaesdReference;
import java.lang.foreign.Arena;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The native TAESD against the float64 {@link TaesdReference} at the real size (64 channels, synthetic
 * weights): f32 within 1e-4, f16 within 2e-3 (the design bounds of docs/design.md); q8_0 leaves its 3x3
 * kernels in f16. Latents are drawn with standard deviation 3, so the decoder's tanh clamp matters.
 */
class TaesdTest {
    static final TaesdConfig CONFIG = TaesdConfig.STANDARD;
    static final double F32_BOUND = 1e-4, F16_BOUND = 2e-3;

    static NativeContext context;
    static StateDict f32;
    static StateDict f16;

    @BeforeAll
    static void setUp() {
        context = new NativeContext(new NativeContext.Options(2, -1, false, false));
        f32 = SyntheticWeights.generate(TaesdLayout.all(CONFIG), 77, DType.F32, Arena.ofShared());
        f16 = SyntheticWeights.generate(TaesdLayout.all(CONFIG), 77, DType.F16, Arena.ofShared());
    }

    @AfterAll
    static void tearDown() {
        f32.close();
        f16.close();
        context.close();
    }

    static float[] latent(long seed, int n) {
        Random r = new Random(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (3 * r.nextGaussian());
        return x;
    }

    static float[] image(long seed, int n) {
        Random r = new Random(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = r.nextFloat();
        return x;
    }

    /** Reference outputs per weights and shape, computed once (the float64 convolutions are the slow part). */
    static final Map<String, double[]> REFERENCE = new HashMap<>();

    static double[] reference(StateDict weights, String what, int[] s, float[] input) {
        return REFERENCE.computeIfAbsent(System.identityHashCode(weights) + what + Arrays.toString(s), k -> {
            TaesdReference ref = new TaesdReference(CONFIG, weights);
            return what.equals("decode") ? ref.decode(input, s[0], s[1], s[2]) : ref.encode(input, s[0], s[1], s[2]);
        });
    }

    static void check(StateDict weights, int weightType, double bound, String label) {
        try (Taesd taesd = new Taesd(context, CONFIG, weights, weightType, Vae.Parts.BOTH)) {
            for (int[] s : new int[][] {{1, 1, 2}, {2, 1, 1}}) {
                float[] z = latent(s[0] * 10 + s[1] + s[2], s[0] * 4 * s[1] * s[2]);
                float[] got = taesd.decode(z, s[0], s[1], s[2]);
                assertEquals(s[0] * 3 * 64 * s[1] * s[2], got.length);
                double err = Ops.relativeL2(got, reference(weights, "decode", s, z));
                System.out.printf("TAESD %s decode %s: relative L2 %.3e%n", label, Arrays.toString(s), err);
                assertTrue(err <= bound, label + " decode " + Arrays.toString(s) + ": " + err + " > " + bound);
            }
            int[] s = {1, 8, 16};
            float[] x = image(5, 3 * 8 * 16);
            double err = Ops.relativeL2(taesd.encode(x, 1, 8, 16), reference(weights, "encode", s, x));
            System.out.printf("TAESD %s encode [1, 8, 16]: relative L2 %.3e%n", label, err);
            assertTrue(err <= bound, label + " encode: " + err + " > " + bound);
        }
    }

    @Test
    void f32MatchesTheReference() {
        check(f32, ember_h.EMBER_WEIGHT_F32(), F32_BOUND, "f32");
    }

    @Test
    void f16MatchesTheReferenceOnTheSameRoundedWeights() {
        check(f16, ember_h.EMBER_WEIGHT_F16(), F16_BOUND, "f16");
    }

    @Test
    void q8LeavesTheKernelsInF16() {
        check(f16, ember_h.EMBER_WEIGHT_Q8_0(), F16_BOUND, "q8_0");
        try (Taesd taesd = new Taesd(context, CONFIG, f16, ember_h.EMBER_WEIGHT_Q8_0(), Vae.Parts.DECODER)) {
            assertEquals(ember_h.EMBER_WEIGHT_F16(), taesd.stats().weightType());
        }
    }

    @Test
    void parametersAreTheReleasedOnes() {
        // madebyollin/taesd's README: 1,222,532 parameters in the encoder, 1,222,531 in the decoder.
        assertEquals(1_222_532, TaesdLayout.encoder(CONFIG).stream().mapToLong(TensorSpec::elementCount).sum());
        assertEquals(1_222_531, TaesdLayout.decoder(CONFIG).stream().mapToLong(TensorSpec::elementCount).sum());
        try (Taesd taesd = new Taesd(context, CONFIG, f32, ember_h.EMBER_WEIGHT_AUTO(), Vae.Parts.DECODER)) {
            assertEquals(1_222_531, taesd.stats().parameters());
        }
    }

    @Test
    void decoderOnlyRefusesToEncodeAndMissingTensorsAreNamed() {
        try (StateDict decoder = SyntheticWeights.generate(TaesdLayout.decoder(CONFIG), 77, DType.F32, Arena.ofShared());
             Taesd taesd = new Taesd(context, CONFIG, decoder, ember_h.EMBER_WEIGHT_F32(), Vae.Parts.DECODER)) {
            NativeException e = assertThrows(NativeException.class, () -> taesd.encode(image(1, 3 * 16 * 16), 1, 16, 16));
            assertTrue(e.getMessage().contains("without its encoder"), e.getMessage());
            NativeException missing = assertThrows(NativeException.class,
                    () -> new Taesd(context, CONFIG, decoder, ember_h.EMBER_WEIGHT_F32(), Vae.Parts.ENCODER).close());
            assertTrue(missing.getMessage().contains("missing tensor encoder.layers.0.weight"), missing.getMessage());
        }
        try (Taesd taesd = new Taesd(context, CONFIG, f32, ember_h.EMBER_WEIGHT_F32(), Vae.Parts.BOTH)) {
            assertThrows(IllegalArgumentException.class, () -> taesd.encode(image(1, 3 * 12 * 16), 1, 12, 16));
            assertThrows(IllegalArgumentException.class, () -> taesd.decode(new float[5], 1, 1, 1));
        }
    }
}
