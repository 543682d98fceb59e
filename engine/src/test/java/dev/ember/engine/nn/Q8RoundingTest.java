package dev.ember.engine.nn;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The searched q8_0 scale against ggml's fixed one, on Gaussian blocks (the shape of trained weights). */
class Q8RoundingTest {
    private static float[] gaussian(int n, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            double u = random.nextDouble(), v = random.nextDouble();
            x[i] = (float) (0.02 * Math.sqrt(-2 * Math.log1p(-u)) * Math.cos(2 * Math.PI * v));
        }
        return x;
    }

    private static double squaredError(float[] x, float[] y, int from, int to) {
        double s = 0;
        for (int i = from; i < to; i++) s += ((double) x[i] - y[i]) * ((double) x[i] - y[i]);
        return s;
    }

    @Test
    void neverWorseThanGgmlsScaleOnAnyBlockAndAboutATenthBetterOverall() {
        float[] x = gaussian(32 * 20_000, 7);
        float[] searched = Q8Rounding.roundTrip(x);
        float[] standard = Q8Rounding.standardRoundTrip(x);
        for (int b = 0; b < x.length; b += 32) {
            // ggml's c = 127 is one of the candidates; it differs only in rounding halves away from zero
            // (rint takes the even neighbour), which may cost at most a rounding tie per element.
            double s = squaredError(x, searched, b, b + 32), t = squaredError(x, standard, b, b + 32);
            assertTrue(s <= t * (1 + 1e-6), "block " + b / 32 + ": " + s + " > " + t);
        }
        double ratio = Math.sqrt(squaredError(x, searched, 0, x.length) / squaredError(x, standard, 0, x.length));
        System.out.printf("q8_0 searched / ggml rounding error (L2): %.4f%n", ratio);
        assertTrue(ratio < 0.93 && ratio > 0.8, "L2 error ratio " + ratio);
    }
}
