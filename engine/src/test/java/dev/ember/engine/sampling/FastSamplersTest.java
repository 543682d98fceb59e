package dev.ember.engine.sampling;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ember.engine.noise.NoiseSource;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * The samplers and schedules of fast (Turbo / LCM) models: lcm, dpmpp_2s_a, dpmpp_sde; exponential,
 * sgm_uniform, simple and trailing schedules. Checked against the timesteps their sources publish and,
 * for the samplers, against what they must do on Gaussian data (an exact denoiser).
 */
class FastSamplersTest {
    private static final DiffusionSchedule SD = DiffusionSchedule.stableDiffusion();
    private static final GaussianProblem DATA = new GaussianProblem(0.5, 0.8);

    @Test
    void trailingUsesDiffusersTimesteps() {
        // diffusers, timestep_spacing="trailing": one step is timestep 999; four are 999, 749, 499, 249
        // (SD-Turbo / SDXL-Turbo); three round 1000, 666.67, 333.33 to 1000, 667, 333, minus one.
        assertArrayEquals(new double[] {SD.sigma(999), 0}, Schedule.TRAILING.sigmas(SD, 1));
        assertArrayEquals(new double[] {SD.sigma(999), SD.sigma(749), SD.sigma(499), SD.sigma(249), 0}, Schedule.TRAILING.sigmas(SD, 4));
        assertArrayEquals(new double[] {SD.sigma(999), SD.sigma(666), SD.sigma(332), 0}, Schedule.TRAILING.sigmas(SD, 3));
        // numpy rounds halves to even: 16 steps give 1000 - 3 x 62.5 = 812.5 -> 812, so timestep 811.
        assertEquals(SD.sigma(811), Schedule.TRAILING.sigmas(SD, 16)[3]);
    }

    @Test
    void simpleTakesEveryNthTrainingSigma() {
        // ComfyUI: sigmas[-(1 + int(x * 1000 / steps))]: for 3 steps timesteps 999, 666, 333 (not trailing's 332).
        assertArrayEquals(new double[] {SD.sigma(999), SD.sigma(666), SD.sigma(333), 0}, Schedule.SIMPLE.sigmas(SD, 3));
        assertArrayEquals(new double[] {SD.sigma(999), 0}, Schedule.SIMPLE.sigmas(SD, 1));
        assertEquals(SD.sigma(999 - 50), Schedule.SIMPLE.sigmas(SD, 20)[1]);
    }

    @Test
    void sgmUniformIsTheDiscreteScheduleOfOneMoreStepWithoutItsLastTimestep() {
        // linspace(999, 0, steps + 1)[:-1]: the discrete schedule's timesteps for steps + 1, the t = 0 one dropped.
        for (int steps : new int[] {1, 4, 25}) {
            double[] sgm = Schedule.SGM_UNIFORM.sigmas(SD, steps);
            double[] discrete = Schedule.DISCRETE.sigmas(SD, steps + 1);
            assertEquals(steps + 1, sgm.length);
            assertArrayEquals(Arrays.copyOf(discrete, steps), Arrays.copyOf(sgm, steps), 1e-12);
            assertEquals(0, sgm[steps]);
        }
        // 4 steps: timesteps 999, 749.25, 499.5, 249.75.
        assertEquals(SD.tToSigma(749.25), Schedule.SGM_UNIFORM.sigmas(SD, 4)[1], 1e-12);
    }

    @Test
    void exponentialIsEvenInLogSigma() {
        double[] s = Schedule.EXPONENTIAL.sigmas(SD, 10);
        assertEquals(SD.sigmaMax(), s[0], 1e-12);
        assertEquals(SD.sigmaMin(), s[9], 1e-12);
        assertEquals(0, s[10]);
        double ratio = s[1] / s[0];
        for (int i = 1; i < 9; i++) assertEquals(ratio, s[i + 1] / s[i], 1e-12);
        assertArrayEquals(new double[] {SD.sigmaMax(), 0}, Schedule.EXPONENTIAL.sigmas(SD, 1), 1e-12);
    }

    @Test
    void everyScheduleParsesAndDecreasesToZero() {
        for (Schedule s : Schedule.values()) {
            assertEquals(s, Schedule.parse(s.id().toUpperCase()));
            for (int steps : new int[] {1, 2, 7, 50}) {
                double[] sig = s.sigmas(SD, steps);
                assertEquals(steps + 1, sig.length);
                assertEquals(0, sig[steps]);
                for (int i = 0; i < steps; i++) assertTrue(sig[i] > sig[i + 1], s + " " + steps + ": " + Arrays.toString(sig));
            }
        }
    }

    @Test
    void oneStepToZeroIsTheDenoisedEstimateForEveryFastSampler() {
        // Turbo: one step from sigma_max to 0 is a single model call whose estimate is the image.
        float[] x = DATA.start(NoiseSource.PHILOX.randn(1, 256), SD.sigmaMax());
        float[] expected = DATA.denoiser().denoise(x, SD.sigmaMax());
        for (Sampler s : new Sampler[] {Sampler.LCM, Sampler.EULER_A, Sampler.DPMPP_2S_A, Sampler.DPMPP_SDE}) {
            int[] calls = {0};
            float[] out = s.sample((xx, sigma) -> {
                calls[0]++;
                return DATA.denoiser().denoise(xx, sigma);
            }, x, new double[] {SD.sigmaMax(), 0}, null, null);
            assertEquals(1, calls[0], s.id());
            for (int i = 0; i < x.length; i++) assertEquals(expected[i], out[i], 1e-5, s.id());
        }
    }

    /** Mean and variance of a run over n Gaussian-data elements. */
    private static double[] moments(Sampler sampler, double[] sig, int n, long noiseSeed) {
        float[] x0 = DATA.start(NoiseSource.MT19937.randn(11, n), sig[0]);
        float[] out = sampler.sample(DATA.denoiser(), x0, sig, NoiseSource.PHILOX.generator(noiseSeed), null);
        double mean = 0, sq = 0;
        for (float f : out) mean += f;
        mean /= n;
        for (float f : out) sq += (f - mean) * (f - mean);
        return new double[] {mean, sq / (n - 1)};
    }

    @Test
    void lcmFollowsItsRecursion() {
        // x' = D(x, s) + next z. On Gaussian data D(x, s) - mu = a (x - mu), a = s_d^2 / (s_d^2 + s^2), so the
        // variance goes v' = a^2 v + next^2 from v = s_d^2 + sigma_0^2, and the last step (to 0) leaves a^2 v.
        double[] sig = Schedule.TRAILING.sigmas(SD, 4);
        int n = 200_000;
        double s2 = DATA.s() * DATA.s();
        double v = s2 + sig[0] * sig[0];
        for (int i = 0; i + 1 < sig.length; i++) {
            double a = s2 / (s2 + sig[i] * sig[i]);
            v = a * a * v + sig[i + 1] * sig[i + 1];
        }
        double[] m = moments(Sampler.LCM, sig, n, 3);
        assertEquals(DATA.mu(), m[0], 5 * Math.sqrt(v / n));
        assertEquals(v, m[1], 5 * v * Math.sqrt(2.0 / n));
    }

    /** k-diffusion's get_ancestral_step, eta 1: {sigma_down, sigma_up}. */
    private static double[] ancestral(double from, double to) {
        double up = Math.min(to, Math.sqrt(to * to * (from * from - to * to) / (from * from)));
        return new double[] {Math.sqrt(to * to - up * up), up};
    }

    /** The ideal denoiser's gain: D(x, sigma) - mu = a (x - mu). */
    private static double gain(double sigma) {
        double s2 = DATA.s() * DATA.s();
        return s2 / (s2 + sigma * sigma);
    }

    /**
     * The variance each sampler must produce on Gaussian data, from k-diffusion's update rules with the
     * ideal (linear) denoiser: every update is y' = k y + noise, y = x - mu, so v' = k^2 v + noise variance.
     */
    private static double predictedVariance(Sampler sampler, double[] sig) {
        double v = DATA.s() * DATA.s() + sig[0] * sig[0];
        for (int i = 0; i + 1 < sig.length; i++) {
            double s = sig[i], next = sig[i + 1];
            if (next == 0) {
                v *= gain(s) * gain(s); // both end with Euler to 0: y' = D - mu
                continue;
            }
            if (sampler == Sampler.DPMPP_2S_A) {
                double[] a = ancestral(s, next);
                double t = -Math.log(s), h = -Math.log(a[0]) - t, mid = Math.exp(-(t + h / 2));
                double k1 = mid / s - Math.expm1(-h / 2) * gain(s);
                double k = a[0] / s - Math.expm1(-h) * gain(mid) * k1;
                v = k * k * v + a[1] * a[1];
            } else {
                double t = -Math.log(s), h = -Math.log(next) - t, mid = Math.exp(-(t + h / 2));
                double[] a1 = ancestral(s, mid), a2 = ancestral(s, next);
                double k1 = a1[0] / s - Math.expm1(t + Math.log(a1[0])) * gain(s);
                double c2 = a2[0] / s, d2 = -Math.expm1(t + Math.log(a2[0]));
                double k = c2 + d2 * gain(mid) * k1;
                // The second draw is the Brownian increment over [next, s], which contains the first one's [mid, s].
                double rho = Math.sqrt((s - mid) / (s - next));
                v = k * k * v + Math.pow(d2 * gain(mid) * a1[1] + a2[1] * rho, 2) + a2[1] * a2[1] * (1 - rho * rho);
            }
        }
        return v;
    }

    @Test
    void stochasticSecondOrderSamplersGiveTheDataDistribution() {
        // The empirical variance over 200k elements must be the one the update rules predict (5 standard errors),
        // and that prediction close to the data's (40 steps: 2s_a 0.617, sde 0.620 for s^2 = 0.64). dpmpp_sde
        // with independent draws instead of the Brownian tree's correlated ones would give 0.554; without the
        // fresh noise both would shrink far below it.
        double[] sig = Schedule.DISCRETE.sigmas(SD, 40);
        int n = 200_000;
        double s2 = DATA.s() * DATA.s();
        for (Sampler s : new Sampler[] {Sampler.DPMPP_2S_A, Sampler.DPMPP_SDE}) {
            double[] m = moments(s, sig, n, 5);
            double v = predictedVariance(s, sig);
            System.out.printf("%s 40 steps: mean %.4f, variance %.4f, predicted %.4f (data %.4f)%n", s.id(), m[0], m[1], v, s2);
            assertEquals(DATA.mu(), m[0], 5 * Math.sqrt(v / n), s.id());
            assertEquals(v, m[1], 5 * v * Math.sqrt(2.0 / n), s.id());
            assertEquals(s2, v, 0.05 * s2, s.id());
        }
    }

    @Test
    void stochasticSamplersAreReproducibleAndUseTheirNoise() {
        double[] sig = Schedule.KARRAS.sigmas(SD, 6);
        float[] x0 = DATA.start(NoiseSource.PHILOX.randn(2, 256), sig[0]);
        for (Sampler s : new Sampler[] {Sampler.LCM, Sampler.DPMPP_2S_A, Sampler.DPMPP_SDE}) {
            assertTrue(s.usesNoise(), s.id());
            float[] a = s.sample(DATA.denoiser(), x0, sig, NoiseSource.PHILOX.generator(1), null);
            float[] b = s.sample(DATA.denoiser(), x0, sig, NoiseSource.PHILOX.generator(1), null);
            float[] c = s.sample(DATA.denoiser(), x0, sig, NoiseSource.PHILOX.generator(2), null);
            assertArrayEquals(a, b, s.id());
            assertFalse(Arrays.equals(a, c), s.id());
        }
        assertEquals(Sampler.LCM, Sampler.parse("LCM"));
        assertEquals(Sampler.DPMPP_2S_A, Sampler.parse("k_dpmpp_2s_a"));
        assertEquals(Sampler.DPMPP_SDE, Sampler.parse("dpmpp_sde"));
    }

    @Test
    void img2imgStrengthRuleHoldsForTheNewSchedules() {
        // InvokeAI: int(steps * strength) steps run, the tail of the full list.
        for (Schedule s : new Schedule[] {Schedule.TRAILING, Schedule.SGM_UNIFORM, Schedule.SIMPLE, Schedule.EXPONENTIAL}) {
            double[] full = Sampler.LCM.sigmas(SD, 4, s);
            double[] tail = StrengthSchedule.forSigmas(full, 0.5).sigmasToRun(full);
            assertArrayEquals(Arrays.copyOfRange(full, 2, 5), tail, s.id());
        }
    }
}
