package dev.ember.engine.sampling;

/**
 * Where img2img starts: with {@code steps} steps and denoising {@code strength}, the last
 * {@code int(steps * strength)} steps run (diffusers' and InvokeAI's rule), starting at sigma index
 * {@code steps - stepsToRun} of the full list. Strength 1 runs everything from full noise; strength 0
 * runs nothing and returns the input.
 *
 * @param steps    steps of the full schedule (its sigma list has {@code steps + 1} entries)
 * @param strength how much of the schedule to run, 0..1
 */
public record StrengthSchedule(int steps, double strength) {

    public StrengthSchedule {
        if (steps < 0) throw new IllegalArgumentException("steps must not be negative");
        if (!(strength >= 0 && strength <= 1)) throw new IllegalArgumentException("strength must be in [0, 1], got " + strength);
    }

    /** The schedule for a given full sigma list (its step count is its length minus one). */
    public static StrengthSchedule forSigmas(double[] sigmas, double strength) {
        return new StrengthSchedule(sigmas.length - 1, strength);
    }

    /** How many steps run: {@code int(steps * strength)}, truncated as Python's {@code int()} does. */
    public int stepsToRun() {
        return Math.min((int) (steps * strength), steps);
    }

    /** Index into the full sigma list where sampling starts. */
    public int startIndex() {
        return steps - stepsToRun();
    }

    /** The tail of {@code sigmas} to hand to {@link Sampler#sample}: {@code stepsToRun() + 1} entries. */
    public double[] sigmasToRun(double[] sigmas) {
        if (sigmas.length != steps + 1) {
            throw new IllegalArgumentException("sigma list has " + sigmas.length + " entries, expected " + (steps + 1));
        }
        return java.util.Arrays.copyOfRange(sigmas, startIndex(), sigmas.length);
    }

    /**
     * The starting latent: {@code init + noise * sigmasToRun[0]} (k-diffusion's img2img), or a copy
     * of {@code init} when no step runs.
     */
    public float[] initialLatent(float[] init, float[] noise, double[] sigmasToRun) {
        if (init.length != noise.length) throw new IllegalArgumentException("init and noise differ in length");
        if (stepsToRun() == 0) return init.clone();
        double sigma = sigmasToRun[0];
        float[] x = new float[init.length];
        for (int i = 0; i < x.length; i++) x[i] = (float) (init[i] + noise[i] * sigma);
        return x;
    }
}
