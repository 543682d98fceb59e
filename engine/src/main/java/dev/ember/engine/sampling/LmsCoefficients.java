package dev.ember.engine.sampling;

/**
 * k-diffusion's {@code linear_multistep_coeff}: the weight of the derivative from {@code j} steps ago
 * in a linear multistep update from {@code t[i]} to {@code t[i+1]}, i.e. the integral over that
 * interval of the Lagrange basis polynomial through {@code t[i], t[i-1], ..., t[i-order+1]} that is 1
 * at {@code t[i-j]}. k-diffusion integrates with scipy's adaptive quad; the integrand is a
 * polynomial of degree {@code order - 1}, so Gauss-Legendre with {@link #POINTS} nodes (exact up to
 * degree {@code 2 * POINTS - 1}) gives it to rounding error.
 */
public final class LmsCoefficients {

    /** Gauss-Legendre nodes used: exact for the Lagrange basis of any order up to 8. */
    static final int POINTS = 8;
    private static final double[] NODES = new double[POINTS];
    private static final double[] WEIGHTS = new double[POINTS];

    static {
        // Nodes are the roots of P_n, found by Newton's method from Chebyshev-like starting points.
        for (int k = 0; k < POINTS; k++) {
            double x = Math.cos(Math.PI * (k + 0.75) / (POINTS + 0.5));
            double derivative = 0;
            for (int iter = 0; iter < 100; iter++) {
                double p0 = 1, p1 = x;
                for (int n = 2; n <= POINTS; n++) {
                    double p2 = ((2 * n - 1) * x * p1 - (n - 1) * p0) / n;
                    p0 = p1;
                    p1 = p2;
                }
                derivative = POINTS * (x * p1 - p0) / (x * x - 1);
                double dx = p1 / derivative;
                x -= dx;
                if (Math.abs(dx) < 1e-16) break;
            }
            NODES[k] = x;
            WEIGHTS[k] = 2 / ((1 - x * x) * derivative * derivative);
        }
    }

    private LmsCoefficients() {
    }

    /**
     * The coefficient for the derivative at {@code t[i - j]} when stepping from {@code t[i]} to
     * {@code t[i + 1]} with an {@code order}-point multistep method.
     */
    public static double coefficient(int order, double[] t, int i, int j) {
        if (order < 1 || order > POINTS) throw new IllegalArgumentException("order must be 1.." + POINTS);
        if (order - 1 > i) throw new IllegalArgumentException("order " + order + " too high for step " + i);
        if (j < 0 || j >= order) throw new IllegalArgumentException("j must be in 0.." + (order - 1));
        double a = t[i];
        double b = t[i + 1];
        double half = (b - a) / 2;
        double mid = (a + b) / 2;
        double sum = 0;
        for (int k = 0; k < POINTS; k++) {
            double tau = mid + half * NODES[k];
            double prod = 1;
            for (int m = 0; m < order; m++) {
                if (m == j) continue;
                prod *= (tau - t[i - m]) / (t[i - j] - t[i - m]);
            }
            sum += WEIGHTS[k] * prod;
        }
        return sum * half;
    }
}
