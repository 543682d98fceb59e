package dev.ember.engine.sampling;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class StrengthScheduleTest {

    @Test
    void tenStepsRule() {
        assertEquals(7, new StrengthSchedule(10, 0.7).stepsToRun());
        assertEquals(3, new StrengthSchedule(10, 0.7).startIndex());
        assertEquals(4, new StrengthSchedule(10, 0.4).stepsToRun());
        assertEquals(6, new StrengthSchedule(10, 0.4).startIndex());
        assertEquals(10, new StrengthSchedule(10, 1.0).stepsToRun());
        assertEquals(0, new StrengthSchedule(10, 1.0).startIndex());
        assertEquals(0, new StrengthSchedule(10, 0.0).stepsToRun());
        assertEquals(10, new StrengthSchedule(10, 0.0).startIndex());
        // int() truncates: 50 * 0.75 = 37.5 -> 37; 100 * 0.29 is 28.999999999999996 in doubles -> 28, as in Python.
        assertEquals(37, new StrengthSchedule(50, 0.75).stepsToRun());
        assertEquals(28, new StrengthSchedule(100, 0.29).stepsToRun());
    }

    @Test
    void slicesAndNoisesTheStart() {
        double[] sigmas = Schedule.DISCRETE.sigmas(DiffusionSchedule.stableDiffusion(), 10);
        StrengthSchedule full = StrengthSchedule.forSigmas(sigmas, 1.0);
        assertArrayEquals(sigmas, full.sigmasToRun(sigmas));
        StrengthSchedule none = StrengthSchedule.forSigmas(sigmas, 0.0);
        assertArrayEquals(new double[] {0.0}, none.sigmasToRun(sigmas));
        float[] init = {1, 2, 3};
        float[] noise = {1, -1, 0.5f};
        assertArrayEquals(init, none.initialLatent(init, noise, none.sigmasToRun(sigmas)));
        StrengthSchedule seven = StrengthSchedule.forSigmas(sigmas, 0.7);
        double[] tail = seven.sigmasToRun(sigmas);
        assertEquals(8, tail.length);
        assertEquals(sigmas[3], tail[0]);
        float[] x = seven.initialLatent(init, noise, tail);
        for (int i = 0; i < 3; i++) assertEquals(init[i] + noise[i] * sigmas[3], x[i], 1e-5);
        assertThrows(IllegalArgumentException.class, () -> new StrengthSchedule(9, 0.5).sigmasToRun(sigmas));
        assertThrows(IllegalArgumentException.class, () -> new StrengthSchedule(10, 1.5));
        assertThrows(IllegalArgumentException.class, () -> new StrengthSchedule(10, Double.NaN));
    }
}
