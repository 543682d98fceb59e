package dev.ember.engine.sampling;

import java.util.Locale;

/**
 * What a network predicts, and how that becomes a denoised latent. With {@code sigma_data = 1}
 * (SD's latents), k-diffusion's preconditioning is {@code c_in = 1 / sqrt(sigma^2 + 1)} for both.
 */
public enum Prediction {
    /** The added noise (SD 1.x, SD 2.x base 512): {@code x0 = x - sigma * eps} (CompVisDenoiser). */
    EPSILON,
    /**
     * Velocity (SD 2.x 768-v): {@code x0 = c_skip * x + c_out * v} with {@code c_skip = 1/(sigma^2+1)},
     * {@code c_out = -sigma/sqrt(sigma^2+1)} (CompVisVDenoiser).
     */
    V_PREDICTION;

    /** The short name used in metadata and on the command line: {@code eps} or {@code v}. */
    public String label() {
        return this == EPSILON ? "eps" : "v";
    }

    /** The scale applied to the latent before the network sees it. */
    public static double cIn(double sigma) {
        return 1 / Math.sqrt(sigma * sigma + 1);
    }

    /** The denoised estimate from the unscaled input {@code x} and the network's {@code output}. */
    public float[] toDenoised(float[] x, float[] output, double sigma) {
        if (x.length != output.length) throw new IllegalArgumentException("network output has " + output.length + " values, input " + x.length);
        float[] x0 = new float[x.length];
        switch (this) {
            case EPSILON -> {
                for (int i = 0; i < x.length; i++) x0[i] = (float) (x[i] - sigma * output[i]);
            }
            case V_PREDICTION -> {
                double s2 = sigma * sigma + 1;
                double cSkip = 1 / s2;
                double cOut = -sigma / Math.sqrt(s2);
                for (int i = 0; i < x.length; i++) x0[i] = (float) (cSkip * x[i] + cOut * output[i]);
            }
        }
        return x0;
    }

    /** Case-insensitive: {@code eps}/{@code epsilon}, {@code v}/{@code v_prediction}. */
    public static Prediction parse(String name) {
        return switch (name.strip().toLowerCase(Locale.ROOT)) {
            case "eps", "epsilon" -> EPSILON;
            case "v", "v_prediction", "v-prediction" -> V_PREDICTION;
            default -> throw new IllegalArgumentException("unknown prediction type '" + name + "'; valid: epsilon (eps), v_prediction (v)");
        };
    }
}
