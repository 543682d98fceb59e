package dev.ember.engine.sampling;

import java.util.Arrays;

/**
 * The training noise schedule of a model: {@code alphas_cumprod} over its discrete timesteps and the
 * matching k-diffusion sigmas {@code sqrt((1 - a) / a)}, with the conversions between a continuous
 * sigma and a (fractional) UNet timestep that k-diffusion's {@code DiscreteSchedule} uses.
 * Everything is double precision. Immutable.
 */
public final class DiffusionSchedule {

    /** Stable Diffusion 1.x/2.x and SDXL: scaled-linear betas from 0.00085 to 0.012 over 1000 steps. */
    public static final double SD_BETA_START = 0.00085;
    public static final double SD_BETA_END = 0.012;
    public static final int SD_TRAIN_STEPS = 1000;

    private final double[] alphasCumprod;
    private final double[] sigmas;
    private final double[] logSigmas;

    private DiffusionSchedule(double[] alphasCumprod) {
        this.alphasCumprod = alphasCumprod;
        this.sigmas = new double[alphasCumprod.length];
        this.logSigmas = new double[alphasCumprod.length];
        for (int t = 0; t < alphasCumprod.length; t++) {
            double a = alphasCumprod[t];
            if (!(a > 0 && a < 1)) throw new IllegalArgumentException("alphas_cumprod[" + t + "] = " + a + " outside (0, 1)");
            sigmas[t] = Math.sqrt((1 - a) / a);
            logSigmas[t] = Math.log(sigmas[t]);
            if (t > 0 && !(sigmas[t] > sigmas[t - 1])) throw new IllegalArgumentException("sigmas must increase with t");
        }
    }

    /** Stable Diffusion's schedule (the one of LDM's {@code linear} schedule with SD's betas). */
    public static DiffusionSchedule stableDiffusion() {
        return scaledLinear(SD_BETA_START, SD_BETA_END, SD_TRAIN_STEPS);
    }

    /**
     * LDM's "linear" schedule (diffusers' {@code scaled_linear}): {@code betas =
     * linspace(sqrt(start), sqrt(end), steps)^2}, {@code alphas_cumprod = cumprod(1 - betas)}.
     */
    public static DiffusionSchedule scaledLinear(double betaStart, double betaEnd, int trainSteps) {
        if (trainSteps < 2) throw new IllegalArgumentException("trainSteps must be at least 2");
        if (!(betaStart > 0 && betaEnd > betaStart && betaEnd < 1)) {
            throw new IllegalArgumentException("need 0 < betaStart < betaEnd < 1, got " + betaStart + ", " + betaEnd);
        }
        double s0 = Math.sqrt(betaStart);
        double s1 = Math.sqrt(betaEnd);
        double[] ac = new double[trainSteps];
        double product = 1;
        for (int i = 0; i < trainSteps; i++) {
            double b = linspace(s0, s1, trainSteps, i);
            product *= 1 - b * b;
            ac[i] = product;
        }
        return new DiffusionSchedule(ac);
    }

    /** A schedule from a model's own {@code alphas_cumprod} (increasing noise with t). */
    public static DiffusionSchedule fromAlphasCumprod(double[] alphasCumprod) {
        if (alphasCumprod == null || alphasCumprod.length < 2) throw new IllegalArgumentException("need at least 2 timesteps");
        return new DiffusionSchedule(alphasCumprod.clone());
    }

    /** torch.linspace's value {@code i} of {@code n}, computed from the nearer end as torch does. */
    static double linspace(double start, double end, int n, int i) {
        if (n == 1) return start;
        double step = (end - start) / (n - 1);
        return i < n / 2 ? start + step * i : end - step * (n - 1 - i);
    }

    /** Number of training timesteps (1000 for SD). */
    public int trainSteps() {
        return sigmas.length;
    }

    /** {@code alphas_cumprod[t]}. */
    public double alphaCumprod(int t) {
        return alphasCumprod[t];
    }

    /** All {@code alphas_cumprod}, a copy. */
    public double[] alphasCumprod() {
        return alphasCumprod.clone();
    }

    /** The sigma of integer timestep {@code t}. */
    public double sigma(int t) {
        return sigmas[t];
    }

    /** All training sigmas in timestep order (increasing), a copy. */
    public double[] sigmas() {
        return sigmas.clone();
    }

    /** The smallest training sigma (timestep 0; about 0.0292 for SD). */
    public double sigmaMin() {
        return sigmas[0];
    }

    /** The largest training sigma (the last timestep; about 14.6146 for SD). */
    public double sigmaMax() {
        return sigmas[sigmas.length - 1];
    }

    /**
     * k-diffusion's {@code DiscreteSchedule.t_to_sigma}: linear interpolation of log-sigma between
     * the neighbouring integer timesteps of a fractional {@code t}.
     */
    public double tToSigma(double t) {
        if (!(t >= 0 && t <= sigmas.length - 1)) throw new IllegalArgumentException("t " + t + " outside [0, " + (sigmas.length - 1) + "]");
        int low = (int) Math.floor(t);
        int high = (int) Math.ceil(t);
        double w = t - low;
        return Math.exp((1 - w) * logSigmas[low] + w * logSigmas[high]);
    }

    /**
     * k-diffusion's {@code DiscreteSchedule.sigma_to_t} (not quantized): the fractional timestep whose
     * log-sigma interpolates to {@code log(sigma)}, clamped to [0, last timestep]. The UNet takes it.
     */
    public double sigmaToT(double sigma) {
        if (!(sigma > 0)) throw new IllegalArgumentException("sigma must be positive, got " + sigma);
        double logSigma = Math.log(sigma);
        // low = last index whose log-sigma is <= log(sigma), clamped so that high = low + 1 exists.
        int idx = Arrays.binarySearch(logSigmas, logSigma);
        int low = idx >= 0 ? idx : -idx - 2;
        low = Math.max(0, Math.min(low, logSigmas.length - 2));
        int high = low + 1;
        double w = (logSigmas[low] - logSigma) / (logSigmas[low] - logSigmas[high]);
        w = Math.max(0, Math.min(1, w));
        return (1 - w) * low + w * high;
    }
}
