package dev.ember.engine.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ember.engine.sampling.Denoiser;
import dev.ember.engine.sampling.Sampler;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Inpainting's per-step rule through a real sampler, against a plain float64 loop written from the rule:
 * Euler's step {@code x += (s' - s) * (x - D(x, s)) / s}, then {@code x = (1 - m) * (init + s' * noise) + m * x}
 * with a soft latent mask {@code m}; every reported step and the result must match.
 */
class MaskBlendTest {
    private static final int C = 4, H = 3, W = 5, N = C * H * W;

    /** A nonlinear, element-coupled denoiser, so a wrong blend order shows. */
    private static final Denoiser DENOISER = (x, sigma) -> {
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) out[i] = (float) (Math.tanh(x[i]) / (1 + sigma) + 0.1 * x[(i + 1) % x.length]);
        return out;
    };

    private static double denoise(double[] x, int i, double sigma) {
        return Math.tanh((float) x[i]) / (1 + sigma) + 0.1 * (float) x[(i + 1) % x.length];
    }

    @Test
    void eulerWithTheBlendMatchesTheFloat64Rule() {
        float[] init = GuidedUnetTest.gaussian(N, 1), noise = GuidedUnetTest.gaussian(N, 2), start = GuidedUnetTest.gaussian(N, 3);
        float[] mask = new float[H * W];
        for (int p = 0; p < mask.length; p++) mask[p] = p % 3 == 0 ? 0 : p % 3 == 1 ? 1 : 0.25f;
        double[] sigmas = {6.0, 3.5, 1.7, 0.6, 0.0};
        for (int i = 0; i < N; i++) start[i] = (float) (init[i] + sigmas[0] * noise[i]);

        List<float[]> reported = new ArrayList<>();
        float[] result = Sampler.EULER.sample(DENOISER, start, sigmas, null, step -> reported.add(step.latent().clone()) || true,
                new MaskBlend(mask, init, noise));

        double[] x = new double[N];
        for (int i = 0; i < N; i++) x[i] = start[i];
        for (int k = 0; k + 1 < sigmas.length; k++) {
            double s = sigmas[k], next = sigmas[k + 1];
            double[] d = new double[N];
            for (int i = 0; i < N; i++) d[i] = (x[i] - (float) denoise(x, i, s)) / s;
            for (int i = 0; i < N; i++) x[i] += (next - s) * d[i];
            for (int i = 0; i < N; i++) {
                double m = mask[i % (H * W)];
                x[i] = (1 - m) * (init[i] + next * noise[i]) + m * x[i];
            }
            for (int i = 0; i < N; i++) assertEquals(x[i], reported.get(k)[i], 2e-5, "step " + (k + 1) + " element " + i);
        }
        for (int i = 0; i < N; i++) {
            assertEquals(x[i], result[i], 2e-5, "result element " + i);
            if (mask[i % (H * W)] == 0) assertEquals(init[i], result[i], 1e-6, "kept element " + i + " ends as the init latent");
        }
    }

    /** Multistep and second-order samplers get the same rule: kept elements sit at init + sigma * noise after every step. */
    @Test
    void everySamplerKeepsTheUnmaskedLatentOnTheNoisedInit() {
        float[] init = GuidedUnetTest.gaussian(N, 4), noise = GuidedUnetTest.gaussian(N, 5);
        float[] mask = new float[H * W];
        for (int p = 0; p < mask.length; p++) mask[p] = p < 7 ? 0 : 1;
        double[] sigmas = {8.0, 4.0, 2.0, 1.0, 0.3, 0.0};
        float[] start = new float[N];
        for (int i = 0; i < N; i++) start[i] = (float) (init[i] + sigmas[0] * noise[i]);
        for (Sampler sampler : List.of(Sampler.LMS, Sampler.HEUN, Sampler.DPMPP_2M, Sampler.DPM2)) {
            List<double[]> checks = new ArrayList<>();
            sampler.sample(DENOISER, start, sigmas, null, step -> {
                float[] x = step.latent();
                int changed = 0;
                for (int i = 0; i < N; i++) {
                    if (mask[i % (H * W)] == 0) {
                        assertEquals(init[i] + step.sigmaNext() * noise[i], x[i], 1e-5, sampler + " step " + step.step() + " element " + i);
                    } else if (Math.abs(x[i] - (init[i] + step.sigmaNext() * noise[i])) > 1e-3) {
                        changed++;
                    }
                }
                checks.add(new double[] {changed});
                return true;
            }, new MaskBlend(mask, init, noise));
            assertEquals(sigmas.length - 1, checks.size(), sampler.id());
            assertTrue(checks.stream().allMatch(c -> c[0] > 0), sampler + ": the masked part follows the model, not the init");
        }
    }
}
