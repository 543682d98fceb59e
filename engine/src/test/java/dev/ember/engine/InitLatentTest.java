package dev.ember.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.ember.engine.image.RgbImage;
import dev.ember.engine.nn.Vae;
import dev.ember.engine.noise.NoiseSource;
import dev.ember.engine.noise.PhiloxNoise;
import dev.ember.engine.pipeline.ImageTensors;
import dev.ember.engine.pipeline.ModelInternals;
import dev.ember.engine.pipeline.OnDemand;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * img2img's init latent: the VAE posterior's mean by default, or a draw from it
 * ({@code mean + exp(clamp(logvar, -30, 20) / 2) * z}, scaled by 0.18215) whose noise {@code z} is the
 * first draw of the image's generator, the sampling noise being the second (diffusers' order).
 */
class InitLatentTest {
    private static final int SIDE = 64, N = 4 * 8 * 8;
    private static final double SCALE = 0.18215;
    private static StableDiffusion sd;
    private static RgbImage init;
    private static float[] moments;

    @BeforeAll
    static void load() {
        sd = StableDiffusion.load(TinyModels.tinySafetensors(), ModelOptions.defaults().withThreads(2));
        init = sd.generate(GenerationRequest.builder("init").size(SIDE, SIDE).steps(2).seed(3).build(), StepListener.NONE)
                .images().getFirst().image();
        try (OnDemand.Lease<Vae> vae = ModelInternals.vaeEncoder(sd)) {
            moments = vae.get().encode(ImageTensors.toTensor(init), 1, SIDE, SIDE);
        }
    }

    @AfterAll
    static void close() {
        sd.close();
    }

    private static GenerationRequest.Builder img2img(InitLatent mode, double strength) {
        return GenerationRequest.builder("a cat").size(SIDE, SIDE).steps(4).seed(11).initImage(init).strength(strength).initLatent(mode);
    }

    private static float[] stepZero(GenerationRequest request) {
        List<float[]> latents = new ArrayList<>();
        sd.generate(request, e -> {
            if (e.step() == 0) latents.add(e.latent().toArray(ValueLayout.JAVA_FLOAT));
            return StepListener.Action.CONTINUE;
        });
        return latents.getFirst();
    }

    /** The posterior draw, computed here from the encoder's moments: mean + exp(clamp(logvar) / 2) * z. */
    private static double[] posterior(float[] z) {
        double[] out = new double[N];
        for (int i = 0; i < N; i++) {
            double logvar = Math.max(-30, Math.min(20, moments[N + i]));
            out[i] = (moments[i] + (z == null ? 0 : Math.exp(logvar / 2) * z[i])) * SCALE;
        }
        return out;
    }

    private static void assertClose(double[] expected, float[] actual, String what) {
        for (int i = 0; i < expected.length; i++) assertEquals(expected[i], actual[i], 1e-6 * Math.max(1, Math.abs(expected[i])), what + " element " + i);
    }

    @Test
    void meanIsTheDefaultAndIgnoresTheSeed() {
        assertEquals(InitLatent.MEAN, GenerationRequest.builder("x").build().initLatent());
        assertClose(posterior(null), stepZero(img2img(InitLatent.MEAN, 0).build()), "mean");
        assertArrayEquals(stepZero(img2img(InitLatent.MEAN, 0).build()), stepZero(img2img(InitLatent.MEAN, 0).seed(12).build()));
    }

    @Test
    void sampleDrawsFromThePosteriorWithTheImagesFirstNoise() {
        float[] z = NoiseSource.PHILOX.randn(11, N);
        float[] sampled = stepZero(img2img(InitLatent.SAMPLE, 0).build());
        assertClose(posterior(z), sampled, "posterior sample");
        assertFalse(java.util.Arrays.equals(sampled, stepZero(img2img(InitLatent.MEAN, 0).build())), "a draw is not the mean");
        // Deterministic given the seed, different for another seed.
        assertArrayEquals(sampled, stepZero(img2img(InitLatent.SAMPLE, 0).build()));
        assertFalse(java.util.Arrays.equals(sampled, stepZero(img2img(InitLatent.SAMPLE, 0).seed(12).build())));
    }

    @Test
    void theSamplingNoiseIsTheSecondDraw() {
        // strength 0.5 of 4 steps: 2 run, from the posterior draw plus the next draw times the entry sigma.
        GenerationRequest request = img2img(InitLatent.SAMPLE, 0.5).build();
        double[] sigmas = request.sampler().sigmas(sd.schedule(), 4, request.schedule());
        float[] z = NoiseSource.PHILOX.randn(11, N), eps = new PhiloxNoise(11, 1).next(N);
        double[] base = posterior(z), expected = new double[N];
        for (int i = 0; i < N; i++) expected[i] = (float) base[i] + eps[i] * sigmas[2];
        assertClose(expected, stepZero(request), "noised posterior draw");
        // The whole run is reproducible.
        byte[] a = sd.generate(request, StepListener.NONE).images().getFirst().image().rgb();
        assertArrayEquals(a, sd.generate(request, StepListener.NONE).images().getFirst().image().rgb());
    }
}
