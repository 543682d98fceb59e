package dev.ember.engine.sampling;

import dev.ember.engine.noise.NoiseGenerator;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The samplers, as k-diffusion's {@code sampling.py} (and diffusers for DDIM) define them, each
 * accepted under its own name and InvokeAI's {@code k_*} alias.
 *
 * <p>Typical use: {@code sigmas = sampler.sigmas(model, steps, schedule)}, start from
 * {@code noise * sampler.initialNoiseScale(sigmas[0])} (txt2img) or
 * {@link StrengthSchedule#initialLatent} (img2img), then {@link #sample}. Any tail of a sigma list
 * may be sampled, which is how img2img starts part-way. Latents go in k-diffusion's scale
 * ({@code x = x0 + sigma * noise}); what a sampler reports and returns is in its own scale,
 * {@link #latentScale} times that.
 */
public enum Sampler {
    /** Linear multistep, order 4 ({@code sample_lms}). */
    LMS("lms", "k_lms"),
    /** Euler's method on the probability-flow ODE ({@code sample_euler}, no churn). */
    EULER("euler", "k_euler"),
    /** Euler ancestral, eta 1 ({@code sample_euler_ancestral}): draws fresh noise each step. */
    EULER_A("euler_a", "k_euler_a", "euler_ancestral"),
    /** Heun's second-order method ({@code sample_heun}): two model calls per step but the last. */
    HEUN("heun", "k_heun"),
    /** DPM-Solver-2 ({@code sample_dpm_2}): midpoint in log-sigma, two calls per step but the last. */
    DPM2("dpm2", "k_dpm_2", "dpm_2"),
    /** DPM-Solver++(2M) ({@code sample_dpmpp_2m}): second-order multistep, one call per step. */
    DPMPP_2M("dpmpp_2m", "k_dpmpp_2m", "dpm++_2m"),
    /**
     * DPM-Solver++(2S) ancestral, eta 1 ({@code sample_dpmpp_2s_ancestral}): a second-order singlestep
     * move to sigma_down through the midpoint in log-sigma, then fresh noise of size sigma_up. Two model
     * calls per step but the last (to sigma 0, plain Euler).
     */
    DPMPP_2S_A("dpmpp_2s_a", "k_dpmpp_2s_a", "dpmpp_2s_ancestral", "dpm++_2s_a"),
    /**
     * DPM-Solver++ SDE ({@code sample_dpmpp_sde}, eta 1, r 1/2): two stochastic DPM-Solver++ substeps per
     * step, two model calls but on the last step. k-diffusion draws its noise from a Brownian tree over
     * sigma, so a step's two draws (over [mid, s] and [next, s]) are correlated; Ember draws them from the
     * image's generator with the same joint law (the second is the first's increment plus fresh noise over
     * [next, mid]), not the same values: images differ from k-diffusion's at the same seed, their
     * distribution does not.
     */
    DPMPP_SDE("dpmpp_sde", "k_dpmpp_sde", "dpm++_sde"),
    /**
     * Latent consistency sampling ({@code sample_lcm}): each step jumps to the model's denoised
     * estimate and, unless it is the last, re-noises it to the next sigma with fresh noise. For LCM and
     * distilled (Turbo) models at 1 to 8 steps, usually with cfg 1.
     */
    LCM("lcm"),
    /**
     * Deterministic DDIM (eta 0) as InvokeAI runs it: diffusers' {@code DDIMScheduler} with SD's config
     * ({@link Ddim}): timesteps {@code k * (1000 // steps) + 1}, one model call per step, the last step
     * ending at timestep 0's noise level, latents in the variance-preserving scale. Its own timesteps
     * replace the {@link Schedule}.
     */
    DDIM("ddim");

    private final List<String> names;

    Sampler(String... names) {
        this.names = List.of(names);
    }

    /** The primary name (the first of {@link #names()}). */
    public String id() {
        return names.getFirst();
    }

    /** Every name this sampler is accepted under. */
    public List<String> names() {
        return names;
    }

    /**
     * Case-insensitive lookup by name or alias ({@code euler_a}, {@code k_euler_a}, {@code EULER_A}, ...).
     *
     * @throws IllegalArgumentException listing the valid names when none matches
     */
    public static Sampler parse(String name) {
        String n = name.strip().toLowerCase(Locale.ROOT);
        for (Sampler s : values()) {
            if (s.names.contains(n) || s.name().toLowerCase(Locale.ROOT).equals(n)) return s;
        }
        throw new IllegalArgumentException("unknown sampler '" + name + "'; valid: "
                + Arrays.stream(values()).map(s -> String.join("/", s.names)).collect(Collectors.joining(", ")));
    }

    /** Whether {@link #sample} draws from its noise generator (ancestral, SDE and LCM samplers). */
    public boolean usesNoise() {
        return this == EULER_A || this == DPMPP_2S_A || this == DPMPP_SDE || this == LCM;
    }

    /**
     * The sigma list for {@code steps} steps ({@code steps + 1} entries): the {@link Schedule}'s list,
     * except for DDIM, which uses its own timesteps (and then ignores {@code schedule}).
     */
    public double[] sigmas(DiffusionSchedule model, int steps, Schedule schedule) {
        return this == DDIM ? Ddim.sigmas(model, steps) : schedule.sigmas(model, steps);
    }

    /**
     * What pure noise is multiplied by to start a txt2img run at {@code sigma}: k-diffusion starts at
     * {@code sigma}; DDIM starts from unit-variance noise in the variance-preserving scale, which is
     * {@code sqrt(1 + sigma^2)} in k-diffusion's variables.
     */
    public double initialNoiseScale(double sigma) {
        return this == DDIM ? 1 / Ddim.varianceScale(sigma) : sigma;
    }

    /**
     * The scale of the latents this sampler reports and returns, relative to k-diffusion's
     * {@code x0 + sigma * noise} at the same {@code sigma}: 1, except DDIM's variance-preserving
     * {@code 1 / sqrt(1 + sigma^2)} (what diffusers' scheduler hands to InvokeAI's step callback). One
     * run reports every step in the same scale, and its last step's latent is the result.
     */
    public double latentScale(double sigma) {
        return this == DDIM ? Ddim.varianceScale(sigma) : 1;
    }

    /** Model calls a run over {@code sigmas} makes (for progress bars): second-order methods call twice but on the last step to 0. */
    public int modelCalls(double[] sigmas) {
        int steps = sigmas.length - 1;
        if (this != HEUN && this != DPM2 && this != DPMPP_2S_A && this != DPMPP_SDE) return steps;
        int calls = 0;
        for (int i = 0; i < steps; i++) calls += sigmas[i + 1] > 0 ? 2 : 1;
        return calls;
    }

    /**
     * Runs the sampler from latent {@code x} (at noise level {@code sigmas[0]}, k-diffusion's scale) down
     * the sigma list and returns the final latent, in the sampler's {@link #latentScale} (as the callback
     * sees every step). {@code x} is not modified.
     *
     * @param denoiser the model
     * @param x        the starting latent (any length: a batch is just a longer array)
     * @param sigmas   decreasing noise levels, all positive except possibly the last (0)
     * @param noise    source of fresh noise for ancestral samplers; may be null for the others
     * @param callback told about every step; returning false cancels
     * @throws dev.ember.engine.GenerationCancelledException when the callback cancels
     */
    public float[] sample(Denoiser denoiser, float[] x, double[] sigmas, NoiseGenerator noise, StepCallback callback) {
        return sample(denoiser, x, sigmas, noise, callback, StepBlend.NONE);
    }

    /**
     * As {@link #sample(Denoiser, float[], double[], NoiseGenerator, StepCallback)}, applying {@code blend} to the
     * sampler's latent at the end of every step, before the step is reported (inpainting's mask).
     */
    public float[] sample(Denoiser denoiser, float[] x, double[] sigmas, NoiseGenerator noise, StepCallback callback, StepBlend blend) {
        validate(sigmas);
        if (usesNoise() && noise == null && sigmas.length > 2) throw new IllegalArgumentException(id() + " needs a noise generator");
        KSamplers run = new KSamplers(denoiser, x, sigmas, callback == null ? StepCallback.NONE : callback,
                blend == null ? StepBlend.NONE : blend);
        return switch (this) {
            case LMS -> run.lms(4);
            case EULER -> run.euler();
            case EULER_A -> run.eulerAncestral(noise);
            case HEUN -> run.heun();
            case DPM2 -> run.dpm2();
            case DPMPP_2M -> run.dpmpp2m();
            case DPMPP_2S_A -> run.dpmpp2sAncestral(noise);
            case DPMPP_SDE -> run.dpmppSde(noise);
            case LCM -> run.lcm(noise);
            case DDIM -> run.ddim();
        };
    }

    private static void validate(double[] sigmas) {
        if (sigmas == null || sigmas.length < 1) throw new IllegalArgumentException("need at least one sigma");
        for (int i = 0; i < sigmas.length; i++) {
            double s = sigmas[i];
            boolean last = i == sigmas.length - 1;
            if (!(last ? s >= 0 : s > 0) || Double.isInfinite(s)) throw new IllegalArgumentException("sigma[" + i + "] = " + s + " not allowed");
            if (i > 0 && !(s < sigmas[i - 1])) throw new IllegalArgumentException("sigmas must decrease: " + Arrays.toString(sigmas));
        }
    }
}
