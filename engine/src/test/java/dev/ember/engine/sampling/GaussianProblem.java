package dev.ember.engine.sampling;

/**
 * Data x0 ~ N(mu, s^2) per element: the ideal denoiser and the probability-flow ODE have closed forms.
 * D(x, sigma) = (s^2 x + sigma^2 mu) / (s^2 + sigma^2); the ODE solution through x at sigma_a is
 * mu + (x - mu) * sqrt(s^2 + sigma_b^2) / sqrt(s^2 + sigma_a^2) at sigma_b.
 */
record GaussianProblem(double mu, double s) {

    Denoiser denoiser() {
        return (x, sigma) -> {
            float[] out = new float[x.length];
            double s2 = s * s, g2 = sigma * sigma;
            for (int i = 0; i < x.length; i++) out[i] = (float) ((s2 * x[i] + g2 * mu) / (s2 + g2));
            return out;
        };
    }

    double[] exact(float[] xStart, double sigmaStart, double sigmaEnd) {
        double f = Math.sqrt(s * s + sigmaEnd * sigmaEnd) / Math.sqrt(s * s + sigmaStart * sigmaStart);
        double[] out = new double[xStart.length];
        for (int i = 0; i < out.length; i++) out[i] = mu + (xStart[i] - mu) * f;
        return out;
    }

    /** A start latent distributed as the noisy data at sigma: mu + sqrt(s^2 + sigma^2) z. */
    float[] start(float[] z, double sigma) {
        float[] x = new float[z.length];
        double scale = Math.sqrt(s * s + sigma * sigma);
        for (int i = 0; i < z.length; i++) x[i] = (float) (mu + scale * z[i]);
        return x;
    }

    static double maxError(float[] actual, double[] expected) {
        double max = 0;
        for (int i = 0; i < actual.length; i++) max = Math.max(max, Math.abs(actual[i] - expected[i]));
        return max;
    }
}
