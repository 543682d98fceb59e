package dev.ember.engine.sampling;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ember.engine.noise.NoiseGenerator;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.Iterator;
import java.util.List;
import java.util.function.DoubleUnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Known answers for every sampler: a few steps on a closed-form denoiser, against a separate float64
 * implementation in this file written from the published algorithms (k-diffusion's {@code sampling.py}:
 * {@code sample_euler}, {@code sample_euler_ancestral} with {@code get_ancestral_step},
 * {@code sample_heun}, {@code sample_dpm_2}, {@code sample_lms} with {@code linear_multistep_coeff},
 * {@code sample_dpmpp_2m}; diffusers' {@code DDIMScheduler.set_timesteps}/{@code step} in its own
 * variance-preserving variables for DDIM). Nothing here calls {@link KSamplers} or {@link LmsCoefficients};
 * a few values are worked out by hand as well.
 */
class SamplerKnownAnswersTest {
    /** Data x0 ~ N(mu, s^2): the ideal denoiser is D(x, sigma) = (s^2 x + sigma^2 mu) / (s^2 + sigma^2). */
    private static final double MU = 0.3, S = 0.7;
    /** Explicit sigmas (no Schedule involved), falling to 0 and not. */
    private static final double[] TO_ZERO = {14.6, 7.1, 3.05, 1.2, 0.41, 0};
    private static final double[] NOT_TO_ZERO = {9.0, 4.4, 2.0, 0.9, 0.35};
    private static final float[] START = {-12.5f, -3.25f, 0.0f, 0.5f, 1.75f, 6.0f, 11.0f, 20.5f};
    /** float model calls vs a float64 reference: relative agreement to ~1e-7, checked at 1e-5. */
    private static final double TOLERANCE = 1e-5;

    private static double ideal(double x, double sigma) {
        return (S * S * x + sigma * sigma * MU) / (S * S + sigma * sigma);
    }

    private static final Denoiser DENOISER = (x, sigma) -> {
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) out[i] = (float) ideal(x[i], sigma);
        return out;
    };

    // ---- the reference: one latent element at a time, all in double -------------------------------------

    /** k-diffusion's to_d. */
    private static double d(double x, double sigma) {
        return (x - ideal(x, sigma)) / sigma;
    }

    static double euler(double x, double[] s) {
        for (int i = 0; i + 1 < s.length; i++) x += d(x, s[i]) * (s[i + 1] - s[i]);
        return x;
    }

    /** get_ancestral_step(sigma_from, sigma_to, eta): {sigma_down, sigma_up}. */
    static double[] ancestralStep(double from, double to, double eta) {
        if (eta == 0) return new double[] {to, 0};
        double up = Math.min(to, eta * Math.sqrt(to * to * (from * from - to * to) / (from * from)));
        return new double[] {Math.sqrt(to * to - up * up), up};
    }

    /** sample_euler_ancestral with the given eta; {@code z[i]} is the noise drawn after step i. */
    static double eulerAncestral(double x, double[] s, double eta, double[] z) {
        for (int i = 0; i + 1 < s.length; i++) {
            double[] downUp = ancestralStep(s[i], s[i + 1], eta);
            x += d(x, s[i]) * (downUp[0] - s[i]);
            if (s[i + 1] > 0) x += z[i] * downUp[1];
        }
        return x;
    }

    static double heun(double x, double[] s) {
        for (int i = 0; i + 1 < s.length; i++) {
            double di = d(x, s[i]), dt = s[i + 1] - s[i];
            if (s[i + 1] == 0) {
                x += di * dt;
            } else {
                double x2 = x + di * dt;
                x += (di + d(x2, s[i + 1])) / 2 * dt;
            }
        }
        return x;
    }

    static double dpm2(double x, double[] s) {
        for (int i = 0; i + 1 < s.length; i++) {
            double di = d(x, s[i]);
            if (s[i + 1] == 0) {
                x += di * (s[i + 1] - s[i]);
            } else {
                double mid = Math.exp((Math.log(s[i]) + Math.log(s[i + 1])) / 2); // log-sigma lerp at 0.5
                double x2 = x + di * (mid - s[i]);
                x += d(x2, mid) * (s[i + 1] - s[i]);
            }
        }
        return x;
    }

    /** linear_multistep_coeff by Simpson's rule, exact for the basis polynomials of degree <= 3 used at order <= 4. */
    static double lmsCoefficient(int order, double[] t, int i, int j) {
        DoubleUnaryOperator basis = tau -> {
            double prod = 1;
            for (int k = 0; k < order; k++) if (k != j) prod *= (tau - t[i - k]) / (t[i - j] - t[i - k]);
            return prod;
        };
        double a = t[i], b = t[i + 1];
        return (b - a) / 6 * (basis.applyAsDouble(a) + 4 * basis.applyAsDouble((a + b) / 2) + basis.applyAsDouble(b));
    }

    static double lms(double x, double[] s) {
        Deque<Double> ds = new ArrayDeque<>();
        for (int i = 0; i + 1 < s.length; i++) {
            ds.addLast(d(x, s[i]));
            if (ds.size() > 4) ds.removeFirst();
            int order = Math.min(i + 1, 4);
            Iterator<Double> newestFirst = ds.descendingIterator();
            double update = 0;
            for (int j = 0; j < order; j++) update += lmsCoefficient(order, s, i, j) * newestFirst.next();
            x += update;
        }
        return x;
    }

    static double dpmpp2m(double x, double[] s) {
        Double old = null;
        for (int i = 0; i + 1 < s.length; i++) {
            double denoised = ideal(x, s[i]);
            if (old == null || s[i + 1] == 0) {
                // t_next = inf at sigma 0: sigma_fn(t_next) / sigma_fn(t) = 0 and -expm1(-h) = 1.
                x = s[i + 1] == 0 ? denoised : s[i + 1] / s[i] * x - Math.expm1(-(Math.log(s[i]) - Math.log(s[i + 1]))) * denoised;
            } else {
                double h = Math.log(s[i]) - Math.log(s[i + 1]);
                double hLast = Math.log(s[i - 1]) - Math.log(s[i]);
                double r = hLast / h;
                double dd = (1 + 1 / (2 * r)) * denoised - 1 / (2 * r) * old;
                x = s[i + 1] / s[i] * x - Math.expm1(-h) * dd;
            }
            old = denoised;
        }
        return x;
    }

    // ---- the comparisons ----------------------------------------------------------------------------------

    private interface Reference {
        double run(double x, double[] sigmas);
    }

    private static void check(Sampler sampler, Reference reference, double[] sigmas) {
        float[] actual = sampler.sample(DENOISER, START, sigmas, null, null);
        for (int k = 0; k < START.length; k++) {
            double expected = reference.run(START[k], sigmas);
            assertEquals(expected, actual[k], TOLERANCE * Math.max(1, Math.abs(expected)),
                    sampler + " element " + k + " over " + Arrays.toString(sigmas));
        }
    }

    @Test
    void deterministicSamplersMatchTheirPublishedAlgorithms() {
        for (double[] sigmas : new double[][] {TO_ZERO, NOT_TO_ZERO, Arrays.copyOf(TO_ZERO, 3)}) {
            check(Sampler.EULER, SamplerKnownAnswersTest::euler, sigmas);
            check(Sampler.HEUN, SamplerKnownAnswersTest::heun, sigmas);
            check(Sampler.DPM2, SamplerKnownAnswersTest::dpm2, sigmas);
            check(Sampler.LMS, SamplerKnownAnswersTest::lms, sigmas);
            check(Sampler.DPMPP_2M, SamplerKnownAnswersTest::dpmpp2m, sigmas);
        }
    }

    @Test
    void handWorkedSteps() {
        // mu 0.3, s 0.7; from x = 2 at sigma 1: D = (0.49 * 2 + 0.3) / 1.49 = 1.28 / 1.49 = 0.85906040...
        // d = (2 - 0.85906040) / 1 = 1.14093960.
        double denoised = 1.28 / 1.49, slope = 2 - denoised;
        float[] x = {2f};
        // Euler to 0.5: 2 - 0.5 * 1.14093960 = 1.42953020.
        assertEquals(1.4295302013422819, Sampler.EULER.sample(DENOISER, x, new double[] {1, 0.5}, null, null)[0], 1e-6);
        assertEquals(2 - 0.5 * slope, 1.4295302013422819, 1e-15);
        // Any sampler's last step to sigma 0 lands on the denoised estimate (Euler with dt = -sigma).
        for (Sampler s : new Sampler[] {Sampler.EULER, Sampler.HEUN, Sampler.DPM2, Sampler.LMS, Sampler.DPMPP_2M}) {
            assertEquals(denoised, s.sample(DENOISER, x, new double[] {1, 0}, null, null)[0], 1e-6, s.id());
        }
        // LMS's first step is Euler's (order 1: the coefficient is the interval, t[i+1] - t[i]).
        assertEquals(-0.5, lmsCoefficient(1, new double[] {1, 0.5}, 0, 0), 1e-15);
    }

    @Test
    void ancestralStepSplitsTheMoveIntoDeterministicAndFreshNoise() {
        // get_ancestral_step(2, 1, eta=1): sigma_up = sqrt(1 * (4 - 1) / 4) = 0.8660254, sigma_down = sqrt(1 - 3/4) = 0.5.
        assertEquals(Math.sqrt(0.75), ancestralStep(2, 1, 1)[1], 1e-15);
        assertEquals(0.5, ancestralStep(2, 1, 1)[0], 1e-15);
        // eta 0.5: sigma_up = 0.4330127, sigma_down = sqrt(1 - 0.1875) = 0.9013878; eta 0: plain Euler to 1.
        assertEquals(0.5 * Math.sqrt(0.75), ancestralStep(2, 1, 0.5)[1], 1e-15);
        assertEquals(Math.sqrt(0.8125), ancestralStep(2, 1, 0.5)[0], 1e-15);
        assertEquals(1, ancestralStep(2, 1, 0)[0]);

        // One Euler-a step (eta 1, k-diffusion's default and Ember's) from x = 2 at sigma 2 to 1 with noise z = 0.5:
        // D = (0.49 * 2 + 4 * 0.3) / 4.49 = 2.18 / 4.49, d = (2 - D) / 2, x' = 2 + d * (0.5 - 2) + 0.5 * 0.8660254.
        double byHand = 2 + (2 - 2.18 / 4.49) / 2 * (0.5 - 2) + 0.5 * Math.sqrt(0.75);
        float[] out = Sampler.EULER_A.sample(DENOISER, new float[] {2f}, new double[] {2, 1}, constantNoise(0.5f), null);
        assertEquals(byHand, out[0], 1e-6);
        assertEquals(byHand, eulerAncestral(2, new double[] {2, 1}, 1, new double[] {0.5}), 1e-12);
        // ... which another eta would not give (eta 0.5: 1.3845 against 1.2973).
        assertTrue(Math.abs(out[0] - eulerAncestral(2, new double[] {2, 1}, 0.5, new double[] {0.5})) > 0.05);
    }

    @Test
    void eulerAncestralMatchesItsPublishedAlgorithmWithEtaOne() {
        for (double[] sigmas : new double[][] {TO_ZERO, NOT_TO_ZERO}) {
            RecordingNoise noise = new RecordingNoise();
            float[] actual = Sampler.EULER_A.sample(DENOISER, START, sigmas, noise, null);
            // One draw of the whole latent per step that ends above 0, in order.
            int draws = (int) Arrays.stream(sigmas, 1, sigmas.length).filter(s -> s > 0).count();
            assertEquals(draws, noise.draws.size());
            for (int k = 0; k < START.length; k++) {
                double[] z = new double[sigmas.length - 1];
                for (int i = 0; i < draws; i++) z[i] = noise.draws.get(i)[k];
                double expected = eulerAncestral(START[k], sigmas, 1, z);
                assertEquals(expected, actual[k], TOLERANCE * Math.max(1, Math.abs(expected)), "euler_a element " + k);
            }
        }
    }

    // ---- DDIM: diffusers' DDIMScheduler in its own variables ----------------------------------------------

    /** Stable Diffusion's alphas_cumprod, computed here: betas = linspace(sqrt(0.00085), sqrt(0.012), 1000)^2. */
    private static double[] sdAlphasCumprod() {
        double[] ac = new double[1000];
        double a = Math.sqrt(0.00085), b = Math.sqrt(0.012), product = 1;
        for (int t = 0; t < 1000; t++) {
            double beta = Math.pow(a + (b - a) * t / 999, 2);
            product *= 1 - beta;
            ac[t] = product;
        }
        return ac;
    }

    /**
     * DDIMScheduler(steps_offset=1, timestep_spacing="leading", set_alpha_to_one=False), eta 0, on an
     * epsilon model: set_timesteps gives (arange(n) * (1000 // n))[::-1] + 1; step() computes
     * pred_x0 = (x - sqrt(1 - a_t) eps) / sqrt(a_t) and x_prev = sqrt(a_prev) pred_x0 + sqrt(1 - a_prev) eps
     * with a_prev = alphas_cumprod[t - 1000 // n], or alphas_cumprod[0] when that index is negative.
     * Returns every latent after each step (the last is the result), variance-preserving.
     */
    static double[][] diffusersDdim(double[] ac, int n, double[] startVp, int startIndex) {
        int ratio = 1000 / n;
        List<double[]> out = new ArrayList<>();
        double[] x = startVp.clone();
        for (int k = startIndex; k < n; k++) {
            int t = (n - 1 - k) * ratio + 1;
            int prev = t - ratio;
            double at = ac[t], aPrev = prev >= 0 ? ac[prev] : ac[0];
            double sigma = Math.sqrt((1 - at) / at);
            for (int e = 0; e < x.length; e++) {
                // The epsilon model behind the ideal denoiser: eps = (x_ve - D(x_ve, sigma)) / sigma, x_ve = x_vp / sqrt(a_t).
                double xVe = x[e] / Math.sqrt(at);
                double eps = (xVe - ideal(xVe, sigma)) / sigma;
                double predX0 = (x[e] - Math.sqrt(1 - at) * eps) / Math.sqrt(at);
                x[e] = Math.sqrt(aPrev) * predX0 + Math.sqrt(1 - aPrev) * eps;
            }
            out.add(x.clone());
        }
        return out.toArray(double[][]::new);
    }

    @Test
    void ddimIsDiffusersDdimSchedulerAsInvokeAiRunsIt() {
        double[] ac = sdAlphasCumprod();
        DiffusionSchedule sd = DiffusionSchedule.stableDiffusion();
        for (int n : new int[] {20, 30, 7}) {
            double[] sigmas = Sampler.DDIM.sigmas(sd, n, Schedule.KARRAS);
            assertEquals(n + 1, sigmas.length, "one model call per step");
            // txt2img: unit noise in the variance-preserving scale (init_noise_sigma = 1).
            double[] startVp = new double[START.length];
            float[] x = new float[START.length];
            double scale = Sampler.DDIM.initialNoiseScale(sigmas[0]);
            for (int e = 0; e < START.length; e++) {
                startVp[e] = START[e] / 8.0;
                x[e] = (float) (startVp[e] * scale);
            }
            double[][] expected = diffusersDdim(ac, n, startVp, 0);
            List<SamplerStep> steps = new ArrayList<>();
            float[] actual = Sampler.DDIM.sample(DENOISER, x, sigmas, null, steps::add);
            assertEquals(n, steps.size());
            for (int k = 0; k < n; k++) {
                for (int e = 0; e < START.length; e++) {
                    double want = expected[k][e];
                    assertEquals(want, steps.get(k).latent()[e], TOLERANCE * Math.max(1, Math.abs(want)),
                            n + " steps: step " + (k + 1) + " element " + e + " (every step in diffusers' scale)");
                }
            }
            for (int e = 0; e < START.length; e++) {
                assertEquals(expected[n - 1][e], actual[e], TOLERANCE * Math.max(1, Math.abs(expected[n - 1][e])), n + " steps: result");
            }
        }
        // 20 steps: timesteps 951, 901, ..., 1, then timestep 0's noise level.
        double[] s20 = Sampler.DDIM.sigmas(sd, 20, Schedule.DISCRETE);
        assertEquals(Math.sqrt((1 - ac[951]) / ac[951]), s20[0], 1e-9);
        assertEquals(Math.sqrt((1 - ac[1]) / ac[1]), s20[19], 1e-9);
        assertEquals(Math.sqrt((1 - ac[0]) / ac[0]), s20[20], 1e-9);
    }

    @Test
    void ddimImg2imgRunsIntStepsTimesStrengthFromDiffusersStartTimestep() {
        // diffusers' img2img: init_timestep = int(n * strength), timesteps[n - init_timestep:], noise added at the first.
        double[] ac = sdAlphasCumprod();
        DiffusionSchedule sd = DiffusionSchedule.stableDiffusion();
        int n = 20;
        double strength = 0.75;
        double[] full = Sampler.DDIM.sigmas(sd, n, Schedule.DISCRETE);
        StrengthSchedule schedule = StrengthSchedule.forSigmas(full, strength);
        double[] tail = schedule.sigmasToRun(full);
        assertEquals(15, schedule.stepsToRun());
        // timesteps 951, 901, ..., 1: the run starts at timesteps[20 - 15] = 701.
        assertEquals(Math.sqrt((1 - ac[701]) / ac[701]), tail[0], 1e-9);

        float[] init = {0.25f, -1.5f, 0.75f, 2.0f}, noise = {1.0f, -0.5f, 0.3f, -2.0f};
        float[] x = schedule.initialLatent(init, noise, tail);
        double[] startVp = new double[init.length];
        for (int e = 0; e < init.length; e++) startVp[e] = Math.sqrt(ac[701]) * init[e] + Math.sqrt(1 - ac[701]) * noise[e]; // add_noise
        double[][] expected = diffusersDdim(ac, n, startVp, 5);
        assertEquals(15, expected.length);
        float[] actual = Sampler.DDIM.sample(DENOISER, x, tail, null, null);
        for (int e = 0; e < init.length; e++) assertEquals(expected[14][e], actual[e], TOLERANCE * Math.max(1, Math.abs(expected[14][e])));
    }

    @ParameterizedTest
    @EnumSource(Sampler.class)
    void everyStepReportsWhatARunStoppingThereWouldReturn(Sampler sampler) {
        // One scale throughout: step k's latent is the result of the same run over the first k + 1 steps
        // (k-diffusion's x for the k-samplers, DDIM's variance-preserving latent for DDIM).
        double[] sigmas = sampler.sigmas(DiffusionSchedule.stableDiffusion(), 6, Schedule.DISCRETE);
        float[] x = new float[START.length];
        for (int e = 0; e < x.length; e++) x[e] = (float) (START[e] * sampler.initialNoiseScale(sigmas[0]) / 8);
        List<SamplerStep> steps = new ArrayList<>();
        float[] out = sampler.sample(DENOISER, x, sigmas, new RecordingNoise(), steps::add);
        assertEquals(6, steps.size());
        for (int k = 0; k < steps.size(); k++) {
            float[] stopped = sampler.sample(DENOISER, x, Arrays.copyOf(sigmas, k + 2), new RecordingNoise(), null);
            assertEquals(Arrays.toString(stopped), Arrays.toString(steps.get(k).latent()), sampler + " step " + (k + 1));
        }
        assertEquals(Arrays.toString(out), Arrays.toString(steps.getLast().latent()), "the last step is the result");
    }

    private static NoiseGenerator constantNoise(float value) {
        return count -> {
            float[] z = new float[count];
            Arrays.fill(z, value);
            return z;
        };
    }

    /** Deterministic, distinct noise per draw, remembering what it handed out. */
    private static final class RecordingNoise implements NoiseGenerator {
        final List<float[]> draws = new ArrayList<>();

        @Override
        public float[] next(int count) {
            float[] z = new float[count];
            for (int i = 0; i < count; i++) z[i] = (float) Math.sin(1.7 * (draws.size() + 1) + 0.9 * i);
            draws.add(z);
            return z.clone();
        }
    }
}
