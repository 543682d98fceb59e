package dev.ember.engine.sampling;

import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ScheduleTest {

    private static final DiffusionSchedule SD = DiffusionSchedule.stableDiffusion();

    @Test
    void stableDiffusionTrainingSchedule() {
        assertEquals(1000, SD.trainSteps());
        // betas[0] = 0.00085 exactly (linspace starts at sqrt(0.00085)), so alphas_cumprod[0] = 0.99915.
        assertEquals(0.99915, SD.alphaCumprod(0), 1e-15);
        assertEquals(0.99915 * (1 - Math.pow(Math.sqrt(0.00085) + (Math.sqrt(0.012) - Math.sqrt(0.00085)) / 999, 2)),
                SD.alphaCumprod(1), 1e-15);
        // k-diffusion / A1111 print these for SD: sigma_min 0.0292, sigma_max 14.6146.
        assertEquals(0.0292, SD.sigmaMin(), 5e-5);
        assertEquals(14.6146, SD.sigmaMax(), 5e-5);
        assertEquals(Math.sqrt(0.00085 / 0.99915), SD.sigmaMin(), 1e-15);
    }

    @Test
    void discreteTwentyStepsMatchesPublishedSigmas() {
        // ComfyUI's documentation of its "normal" scheduler (k-diffusion's DiscreteSchedule.get_sigmas,
        // same SD betas) prints these for 20 steps.
        double[] published = {14.6146, 10.7468, 8.0815, 6.2049, 4.8557, 3.8654, 3.1238, 2.5572, 2.1157, 1.7648,
            1.4806, 1.2458, 1.0481, 0.8784, 0.7297, 0.5964, 0.4736, 0.3555, 0.2322, 0.0292, 0.0};
        double[] ours = Schedule.DISCRETE.sigmas(SD, 20);
        assertEquals(21, ours.length);
        for (int i = 0; i < published.length; i++) assertEquals(published[i], ours[i], 6e-5, "sigma " + i);
        assertEquals(0.0, ours[20]);
    }

    @Test
    void twentyNineAndThirtyStepsDiffer() {
        double[] a = Schedule.DISCRETE.sigmas(SD, 29);
        double[] b = Schedule.DISCRETE.sigmas(SD, 30);
        assertEquals(30, a.length);
        assertEquals(31, b.length);
        assertFalse(Arrays.equals(Arrays.copyOf(a, 29), Arrays.copyOf(b, 29)));
        // Both span the full range.
        assertEquals(SD.sigmaMax(), a[0], 1e-12);
        assertEquals(SD.sigmaMax(), b[0], 1e-12);
        assertEquals(SD.sigmaMin(), a[28], 1e-12);
        assertEquals(SD.sigmaMin(), b[29], 1e-12);
        // The second value sits at timestep 999 - 999/(n-1).
        assertEquals(SD.tToSigma(999 - 999.0 / 28), a[1], 1e-12);
        assertEquals(SD.tToSigma(999 - 999.0 / 29), b[1], 1e-12);
    }

    @Test
    void karrasSpansTheModelRangeWithRhoSeven() {
        double[] k = Schedule.KARRAS.sigmas(SD, 10);
        assertEquals(11, k.length);
        assertEquals(SD.sigmaMax(), k[0], 1e-12);
        assertEquals(SD.sigmaMin(), k[9], 1e-12);
        assertEquals(0.0, k[10]);
        double mid = Math.pow((Math.pow(SD.sigmaMax(), 1 / 7.0) + Math.pow(SD.sigmaMin(), 1 / 7.0)) / 2, 7);
        // With 5 steps the ramp is 0, .25, .5, .75, 1: the middle sigma is the rho-mean of the ends.
        assertEquals(mid, Schedule.KARRAS.sigmas(SD, 5)[2], 1e-12);
        double[] k3 = Schedule.KARRAS.sigmas(SD, 3);
        for (int i = 1; i < k3.length; i++) assertTrue(k3[i] < k3[i - 1]);
    }

    @Test
    void sigmaToTInvertsTToSigma() {
        for (int t : new int[] {0, 1, 250, 500, 998, 999}) assertEquals(t, SD.sigmaToT(SD.sigma(t)), 1e-9, "t " + t);
        for (double t : new double[] {0.25, 12.5, 480.75, 998.999}) assertEquals(t, SD.sigmaToT(SD.tToSigma(t)), 1e-9, "t " + t);
        // Out of range sigmas clamp to the ends, as k-diffusion's sigma_to_t does.
        assertEquals(0.0, SD.sigmaToT(0.001));
        assertEquals(999.0, SD.sigmaToT(100));
        // Between two timesteps the interpolation is linear in log-sigma.
        double geometricMid = Math.sqrt(SD.sigma(500) * SD.sigma(501));
        assertEquals(500.5, SD.sigmaToT(geometricMid), 1e-9);
        assertThrows(IllegalArgumentException.class, () -> SD.sigmaToT(0));
        assertThrows(IllegalArgumentException.class, () -> SD.tToSigma(1000));
    }

    @Test
    void parseSchedules() {
        assertEquals(Schedule.KARRAS, Schedule.parse("Karras"));
        assertEquals(Schedule.DISCRETE, Schedule.parse("normal"));
        assertThrows(IllegalArgumentException.class, () -> Schedule.parse("polyexponential"));
        assertThrows(IllegalArgumentException.class, () -> Schedule.DISCRETE.sigmas(SD, 0));
    }
}
