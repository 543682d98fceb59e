package dev.ember.engine.sampling;

import dev.ember.engine.GenerationCancelledException;
import dev.ember.engine.noise.NoiseSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SamplerTest {

    private static final GaussianProblem DATA = new GaussianProblem(0.5, 0.8);
    private static final float[] Z = NoiseSource.PHILOX.randn(3, 256);
    private static final double SIGMA_MAX = 10;
    private static final double SIGMA_END = 0.1;

    /** Karras-spaced sigmas from 10 down to 0.1 with no final 0, so the ODE's exact end value is known. */
    private static double[] sigmas(int steps) {
        double[] out = new double[steps + 1];
        double a = Math.pow(SIGMA_MAX, 1 / 7.0), b = Math.pow(SIGMA_END, 1 / 7.0);
        for (int i = 0; i <= steps; i++) out[i] = Math.pow(a + (double) i / steps * (b - a), 7);
        out[steps] = SIGMA_END;
        return out;
    }

    private static double odeError(Sampler sampler, int steps) {
        float[] x0 = DATA.start(Z, SIGMA_MAX);
        float[] result = sampler.sample(DATA.denoiser(), x0, sigmas(steps), null, StepCallback.NONE);
        return GaussianProblem.maxError(result, DATA.exact(x0, SIGMA_MAX, SIGMA_END));
    }

    private static double observedOrder(Sampler sampler, int steps) {
        return Math.log(odeError(sampler, steps) / odeError(sampler, 2 * steps)) / Math.log(2);
    }

    @Test
    void eulerIsFirstOrder() {
        // Doubling the steps halves the error (measured: 0.27, 0.14, 0.071, 0.036 at 10..80 steps):
        // observed order within 0.1 of 1.
        assertEquals(1.0, observedOrder(Sampler.EULER, 20), 0.1);
        assertEquals(1.0, observedOrder(Sampler.EULER, 40), 0.1);
        assertTrue(odeError(Sampler.EULER, 80) < 0.04, "euler 80 steps: " + odeError(Sampler.EULER, 80));
    }

    @Test
    void secondOrderMethodsQuarterTheirError() {
        // Doubling the steps quarters the error (measured at 40 steps: heun 4.0e-3, dpm2 2.3e-3,
        // dpmpp_2m 3.5e-3): observed order within 0.25 of 2 from 20 -> 40 and 40 -> 80 steps.
        for (Sampler s : new Sampler[] {Sampler.HEUN, Sampler.DPM2, Sampler.DPMPP_2M}) {
            for (int steps : new int[] {20, 40}) {
                double order = observedOrder(s, steps);
                assertEquals(2.0, order, 0.25, s + " observed order " + order + " from " + steps + " steps");
            }
            assertTrue(odeError(s, 40) < 5e-3, s + " 40 steps: " + odeError(s, 40));
        }
    }

    @Test
    void lmsBeatsEulerAndConvergesFasterThanSecondOrder() {
        // Measured: lms 4.9e-2, 5.5e-3, 4.9e-4 vs euler 0.27, 0.14, 0.071 at 10, 20, 40 steps.
        int[] steps = {10, 20, 40};
        double[] factor = {4, 20, 100};
        for (int k = 0; k < steps.length; k++) {
            assertTrue(odeError(Sampler.LMS, steps[k]) < odeError(Sampler.EULER, steps[k]) / factor[k],
                    "lms " + odeError(Sampler.LMS, steps[k]) + " vs euler " + odeError(Sampler.EULER, steps[k]) + " at " + steps[k]);
        }
        // Order 4 once warmed up, but its first three steps use orders 1..3: observed above 3 from 20 -> 40.
        double order = observedOrder(Sampler.LMS, 20);
        assertTrue(order > 3, "lms observed order " + order);
    }

    @Test
    void ddimIsEulerInTheseVariablesReturnedVariancePreserving() {
        float[] x0 = DATA.start(Z, SIGMA_MAX);
        double[] sig = sigmas(15);
        float[] euler = Sampler.EULER.sample(DATA.denoiser(), x0, sig, null, null);
        float[] ddim = Sampler.DDIM.sample(DATA.denoiser(), x0, sig, null, null);
        double scale = 1 / Math.sqrt(1 + SIGMA_END * SIGMA_END);
        assertEquals(scale, Sampler.DDIM.latentScale(SIGMA_END));
        for (int i = 0; i < x0.length; i++) assertEquals(euler[i] * scale, ddim[i], 1e-6);
    }

    @Test
    void everyDeterministicSamplerReachesTheDataMeanAtSigmaZero() {
        // A full SD Karras schedule ending in 0 lands near the exact ODE end point mu + s z.
        DiffusionSchedule sd = DiffusionSchedule.stableDiffusion();
        for (Sampler s : new Sampler[] {Sampler.LMS, Sampler.EULER, Sampler.HEUN, Sampler.DPM2, Sampler.DPMPP_2M}) {
            double[] sig = s.sigmas(sd, 30, Schedule.KARRAS);
            float[] x0 = DATA.start(Z, sig[0]);
            float[] out = s.sample(DATA.denoiser(), x0, sig, null, null);
            double[] exact = DATA.exact(x0, sig[0], 0);
            // Measured: euler 0.13, the others 0.004 to 0.012 (the last step, sigma_min -> 0, is Euler's).
            assertTrue(GaussianProblem.maxError(out, exact) < (s == Sampler.EULER ? 0.2 : 0.02),
                    s + " error " + GaussianProblem.maxError(out, exact));
        }
    }

    @Test
    void eulerAncestralGivesTheDataDistribution() {
        // Exact for Gaussian data: the ancestral step maps x - mu to a (x - mu) + sigmaUp xi with
        // a = (s^2 + sigma * sigmaDown) / (s^2 + sigma^2), so the variance follows
        // v' = a^2 v + sigmaUp^2 from v = s^2 + sigma_max^2, which tends to s^2 as steps grow (first
        // order: 0.377, 0.543, 0.608, 0.630 at 10, 40, 160, 640 steps for s^2 = 0.64). Check mean and
        // variance over 200k elements at 160 steps.
        DiffusionSchedule sd = DiffusionSchedule.stableDiffusion();
        double[] sig = Schedule.DISCRETE.sigmas(sd, 160);
        int n = 200_000;
        float[] z = NoiseSource.MT19937.randn(11, n);
        float[] x0 = DATA.start(z, sig[0]);
        float[] out = Sampler.EULER_A.sample(DATA.denoiser(), x0, sig, NoiseSource.PHILOX.generator(5), null);

        double s2 = DATA.s() * DATA.s();
        double v = s2 + sig[0] * sig[0];
        for (int i = 0; i + 1 < sig.length; i++) {
            double s = sig[i], next = sig[i + 1];
            double up = Math.min(next, Math.sqrt(next * next * (s * s - next * next) / (s * s)));
            double down = Math.sqrt(next * next - up * up);
            double a = (s2 + s * down) / (s2 + s * s);
            v = a * a * v + up * up;
        }
        double mean = 0, sq = 0;
        for (float f : out) mean += f;
        mean /= n;
        for (float f : out) sq += (f - mean) * (f - mean);
        double var = sq / (n - 1);
        // Standard errors: sqrt(v/n) = 0.0018 for the mean, v sqrt(2/n) = 0.002 for the variance; 5 SE.
        assertEquals(DATA.mu(), mean, 5 * Math.sqrt(v / n));
        assertEquals(v, var, 5 * v * Math.sqrt(2.0 / n));
        // And that prediction is close to the data variance itself (160 steps: within 6 %).
        assertEquals(s2, v, 0.06 * s2);
    }

    @Test
    void eulerAncestralIsReproducibleAndUsesTheNoise() {
        double[] sig = Schedule.DISCRETE.sigmas(DiffusionSchedule.stableDiffusion(), 10);
        float[] x0 = DATA.start(Z, sig[0]);
        float[] a = Sampler.EULER_A.sample(DATA.denoiser(), x0, sig, NoiseSource.PHILOX.generator(1), null);
        float[] b = Sampler.EULER_A.sample(DATA.denoiser(), x0, sig, NoiseSource.PHILOX.generator(1), null);
        float[] c = Sampler.EULER_A.sample(DATA.denoiser(), x0, sig, NoiseSource.PHILOX.generator(2), null);
        assertArrayEquals(a, b);
        assertTrue(!Arrays.equals(a, c));
        assertThrows(IllegalArgumentException.class, () -> Sampler.EULER_A.sample(DATA.denoiser(), x0, sig, null, null));
    }

    @Test
    void finalStepToZeroReturnsTheDenoisedEstimate() {
        // Euler from sigma to 0: x + (x - D)/sigma * (0 - sigma) = D, exactly the ideal denoiser's output.
        float[] x = DATA.start(Z, 0.5);
        float[] expected = DATA.denoiser().denoise(x, 0.5);
        for (Sampler s : new Sampler[] {Sampler.EULER, Sampler.HEUN, Sampler.DPM2, Sampler.DPMPP_2M, Sampler.LMS, Sampler.EULER_A}) {
            float[] out = s.sample(DATA.denoiser(), x, new double[] {0.5, 0}, NoiseSource.PHILOX.generator(0), null);
            for (int i = 0; i < x.length; i++) assertEquals(expected[i], out[i], 1e-6, s.id());
        }
    }

    @ParameterizedTest
    @EnumSource(Sampler.class)
    void callbackSeesEveryStepAndCanCancel(Sampler sampler) {
        double[] sig = sampler.sigmas(DiffusionSchedule.stableDiffusion(), 8, Schedule.DISCRETE);
        int steps = sig.length - 1;
        List<SamplerStep> seen = new ArrayList<>();
        int[] calls = {0};
        Denoiser counting = (x, sigma) -> {
            calls[0]++;
            return DATA.denoiser().denoise(x, sigma);
        };
        float[] x0 = DATA.start(Z, sig[0]);
        List<Integer> callsWhenReported = new ArrayList<>();
        float[] out = sampler.sample(counting, x0, sig, NoiseSource.PHILOX.generator(0), step -> {
            callsWhenReported.add(calls[0]);
            return seen.add(step);
        });
        assertEquals(steps, seen.size());
        assertEquals(sampler.modelCalls(sig), calls[0]);
        for (int i = 0; i < steps; i++) {
            assertEquals(i + 1, seen.get(i).step());
            assertEquals(steps, seen.get(i).totalSteps());
            assertEquals(sig[i], seen.get(i).sigma());
            assertEquals(sig[i + 1], seen.get(i).sigmaNext());
            assertEquals(Z.length, seen.get(i).latent().length);
            // Reported as soon as the step's latent exists: after exactly the model calls of steps 1..i+1.
            assertEquals(sampler.modelCalls(Arrays.copyOf(sig, i + 2)), callsWhenReported.get(i), "model calls before step " + (i + 1));
        }
        assertArrayEquals(out, seen.getLast().latent(), "the last step reports the result");
        assertFalse(Arrays.equals(x0, seen.getFirst().latent()), "step 1 reports where it ended, not where it started");

        int[] before = {0};
        calls[0] = 0;
        GenerationCancelledException e = assertThrows(GenerationCancelledException.class,
                () -> sampler.sample(counting, x0, sig, NoiseSource.PHILOX.generator(0), step -> ++before[0] < 3));
        assertTrue(e.getMessage().contains("step 3"), e.getMessage());
        assertEquals(3, before[0]);
        assertEquals(sampler.modelCalls(Arrays.copyOf(sig, 4)), calls[0], "a cancel after step 3 makes no further model call");
    }

    @Test
    void startsPartWayThroughASigmaList() {
        // img2img: 10 steps at strength 0.4 runs the last 4, from init + noise * sigmas[6].
        double[] full = Schedule.DISCRETE.sigmas(DiffusionSchedule.stableDiffusion(), 10);
        StrengthSchedule strength = StrengthSchedule.forSigmas(full, 0.4);
        double[] tail = strength.sigmasToRun(full);
        assertEquals(5, tail.length);
        assertEquals(full[6], tail[0]);
        float[] init = new float[Z.length];
        Arrays.fill(init, 0.5f);
        float[] x = strength.initialLatent(init, Z, tail);
        for (int i = 0; i < x.length; i++) assertEquals(0.5 + Z[i] * full[6], x[i], 1e-5);
        List<SamplerStep> seen = new ArrayList<>();
        Sampler.DPMPP_2M.sample(DATA.denoiser(), x, tail, null, seen::add);
        assertEquals(4, seen.size());
        assertEquals(full[6], seen.getFirst().sigma());
    }

    @Test
    void batchesAreElementwise() {
        // Two latents side by side give the same results as each alone (samplers are per element).
        double[] sig = sigmas(12);
        float[] a = DATA.start(Arrays.copyOf(Z, 128), SIGMA_MAX);
        float[] b = DATA.start(Arrays.copyOfRange(Z, 128, 256), SIGMA_MAX);
        float[] both = DATA.start(Z, SIGMA_MAX);
        for (Sampler s : new Sampler[] {Sampler.LMS, Sampler.HEUN, Sampler.DPMPP_2M}) {
            float[] ab = s.sample(DATA.denoiser(), both, sig, null, null);
            assertArrayEquals(s.sample(DATA.denoiser(), a, sig, null, null), Arrays.copyOf(ab, 128));
            assertArrayEquals(s.sample(DATA.denoiser(), b, sig, null, null), Arrays.copyOfRange(ab, 128, 256));
        }
    }

    @Test
    void parseAcceptsNamesAndInvokeAliases() {
        assertEquals(Sampler.LMS, Sampler.parse("k_lms"));
        assertEquals(Sampler.EULER, Sampler.parse("K_EULER"));
        assertEquals(Sampler.EULER_A, Sampler.parse("k_euler_a"));
        assertEquals(Sampler.EULER_A, Sampler.parse("Euler_A"));
        assertEquals(Sampler.HEUN, Sampler.parse("k_heun"));
        assertEquals(Sampler.DPM2, Sampler.parse("k_dpm_2"));
        assertEquals(Sampler.DPMPP_2M, Sampler.parse("k_dpmpp_2m"));
        assertEquals(Sampler.DPMPP_2M, Sampler.parse(" dpmpp_2m "));
        assertEquals(Sampler.DDIM, Sampler.parse("DDIM"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Sampler.parse("plms"));
        for (Sampler s : Sampler.values()) assertTrue(e.getMessage().contains(s.id()), e.getMessage());
        assertTrue(e.getMessage().contains("k_euler_a"), e.getMessage());
    }

    @Test
    void ddimUsesDiffusersLeadingTimesteps() {
        DiffusionSchedule sd = DiffusionSchedule.stableDiffusion();
        // 20 steps: timesteps 951, 901, ..., 1 and the final step to timestep 0's level: 20 model calls.
        double[] s20 = Sampler.DDIM.sigmas(sd, 20, Schedule.KARRAS);
        assertEquals(21, s20.length);
        assertEquals(sd.sigma(951), s20[0]);
        assertEquals(sd.sigma(901), s20[1]);
        assertEquals(sd.sigma(1), s20[19]);
        assertEquals(sd.sigma(0), s20[20]);
        // 30 steps: stride 33 gives timesteps 958, 925, ..., 1.
        double[] s30 = Sampler.DDIM.sigmas(sd, 30, Schedule.DISCRETE);
        assertEquals(31, s30.length);
        assertEquals(sd.sigma(958), s30[0]);
        assertEquals(Math.sqrt(1 + s30[0] * s30[0]), Sampler.DDIM.initialNoiseScale(s30[0]), 1e-12);
        assertEquals(s30[0], Sampler.EULER.initialNoiseScale(s30[0]));
        // 999 steps is the most "leading" spacing allows (1000 would need timestep 1000).
        assertEquals(1000, Sampler.DDIM.sigmas(sd, 999, Schedule.DISCRETE).length);
        assertThrows(IllegalArgumentException.class, () -> Sampler.DDIM.sigmas(sd, 1000, Schedule.DISCRETE));
    }

    @Test
    void rejectsBadSigmaLists() {
        Denoiser d = DATA.denoiser();
        float[] x = {1f};
        assertThrows(IllegalArgumentException.class, () -> Sampler.EULER.sample(d, x, new double[] {1, 2, 0}, null, null));
        assertThrows(IllegalArgumentException.class, () -> Sampler.EULER.sample(d, x, new double[] {1, 0, 0}, null, null));
        assertThrows(IllegalArgumentException.class, () -> Sampler.EULER.sample(d, x, new double[] {}, null, null));
        assertThrows(IllegalStateException.class, () -> Sampler.EULER.sample((xx, s) -> new float[2], x, new double[] {1, 0}, null, null));
    }
}
