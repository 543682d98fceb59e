package dev.ember.engine.sampling;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class LmsCoefficientsTest {

    @Test
    void firstOrderIsTheStepLength() {
        double[] t = {10, 7, 4};
        assertEquals(-3, LmsCoefficients.coefficient(1, t, 0, 0), 1e-12);
        assertEquals(-3, LmsCoefficients.coefficient(1, t, 1, 0), 1e-12);
    }

    @Test
    void secondOrderByHand() {
        // t0 = 10, t1 = 6, step to t2 = 3. Basis for t1: (tau - t0)/(t1 - t0); for t0: (tau - t1)/(t0 - t1).
        // int_6^3 (tau - 10)/(-4) dtau = [(tau-10)^2 / -8]_6^3 = (49 - 16)/-8 = -4.125
        // int_6^3 (tau - 6)/4 dtau   = [(tau-6)^2 / 8]_6^3   = 9/8     =  1.125
        double[] t = {10, 6, 3};
        assertEquals(-4.125, LmsCoefficients.coefficient(2, t, 1, 0), 1e-12);
        assertEquals(1.125, LmsCoefficients.coefficient(2, t, 1, 1), 1e-12);
    }

    @Test
    void uniformGridGivesAdamsBashforth() {
        // On an evenly spaced grid with step h, the order-4 weights are h * (55, -59, 37, -9) / 24.
        double h = -0.5;
        double[] t = {5, 4.5, 4, 3.5, 3};
        double[] ab4 = {55, -59, 37, -9};
        for (int j = 0; j < 4; j++) assertEquals(h * ab4[j] / 24, LmsCoefficients.coefficient(4, t, 3, j), 1e-12, "j " + j);
        double[] ab3 = {23, -16, 5};
        for (int j = 0; j < 3; j++) assertEquals(h * ab3[j] / 12, LmsCoefficients.coefficient(3, t, 2, j), 1e-12, "j " + j);
    }

    @Test
    void weightsSumToTheStepAndIntegrateCubicsExactly() {
        // Uneven grid (SD-like sigmas): the basis polynomials sum to 1, so the weights sum to the step;
        // and sum_j w_j p(t_{i-j}) = int p for any cubic p, here p(tau) = tau^3 - 2 tau.
        double[] t = {14.6, 9.7, 6.2, 3.9, 2.1, 1.0};
        int i = 4;
        double sum = 0, quad = 0;
        for (int j = 0; j < 4; j++) {
            double w = LmsCoefficients.coefficient(4, t, i, j);
            sum += w;
            double tau = t[i - j];
            quad += w * (tau * tau * tau - 2 * tau);
        }
        double a = t[i], b = t[i + 1];
        double exact = (Math.pow(b, 4) - Math.pow(a, 4)) / 4 - (b * b - a * a);
        assertEquals(b - a, sum, 1e-12);
        assertEquals(exact, quad, 1e-10);
    }

    @Test
    void rejectsOrdersTooHighForTheStep() {
        assertThrows(IllegalArgumentException.class, () -> LmsCoefficients.coefficient(4, new double[] {3, 2, 1, 0}, 2, 0));
        assertThrows(IllegalArgumentException.class, () -> LmsCoefficients.coefficient(2, new double[] {3, 2, 1}, 1, 2));
    }
}
