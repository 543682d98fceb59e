package dev.ember.engine.sampling;

/**
 * DDIM as InvokeAI runs it: diffusers' {@code DDIMScheduler} with Stable Diffusion's scheduler config
 * ({@code steps_offset = 1}, {@code timestep_spacing = "leading"}, {@code set_alpha_to_one = false})
 * and {@code eta = 0}.
 *
 * <ul>
 *   <li>Timesteps for {@code n} steps: {@code k * (T // n) + 1} for {@code k = n-1 .. 0} (20 steps:
 *       951, 901, ..., 1), one model call each.</li>
 *   <li>Each step goes from {@code alphas_cumprod[t]} to {@code alphas_cumprod[t - T // n]}; the last
 *       one, whose previous timestep is negative, to {@code alphas_cumprod[0]} (not to 1), so the
 *       result keeps the small noise level of timestep 0.</li>
 *   <li>Latents are variance-preserving: {@code x_vp = sqrt(alpha) x0 + sqrt(1 - alpha) eps}, which is
 *       k-diffusion's {@code x = x0 + sigma eps} divided by {@code sqrt(1 + sigma^2)}. txt2img starts
 *       from unit noise ({@code init_noise_sigma = 1}).</li>
 * </ul>
 *
 * In k-diffusion's variables an eta-0 DDIM step is exactly an Euler step from sigma(t) to
 * sigma(t_prev), which is how {@link KSamplers#ddim()} runs it.
 */
final class Ddim {
    /** diffusers' {@code steps_offset} in SD's scheduler config. */
    static final int STEPS_OFFSET = 1;

    private Ddim() {}

    /** The {@code steps + 1} sigmas: those of the {@code steps} timesteps, then that of timestep 0. */
    static double[] sigmas(DiffusionSchedule model, int steps) {
        int trainSteps = model.trainSteps();
        // "leading" spacing puts the largest timestep at (steps - 1) * (T // steps) + 1, past the last
        // training timestep only when steps == T.
        if (steps < 1 || steps >= trainSteps) {
            throw new IllegalArgumentException("DDIM needs 1.." + (trainSteps - 1) + " steps, got " + steps);
        }
        int ratio = trainSteps / steps;
        double[] sigmas = new double[steps + 1];
        for (int k = 0; k < steps; k++) sigmas[k] = model.sigma((steps - 1 - k) * ratio + STEPS_OFFSET);
        sigmas[steps] = model.sigma(0); // set_alpha_to_one = false: final_alpha_cumprod = alphas_cumprod[0]
        return sigmas;
    }

    /** k-diffusion's latent at {@code sigma} times this is DDIM's variance-preserving latent. */
    static double varianceScale(double sigma) {
        return 1 / Math.sqrt(1 + sigma * sigma);
    }
}
