package dev.ember.engine.sampling;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * How {@code n} sampling steps are spread over a model's sigma range. Each list has {@code n + 1}
 * entries, decreasing, the last one 0 (k-diffusion's {@code append_zero}).
 */
public enum Schedule {
    /**
     * k-diffusion's {@code DiscreteSchedule.get_sigmas(n)} (A1111's default): {@code n} timesteps
     * evenly spaced from the last training timestep down to 0, log-sigma interpolated at fractional
     * timesteps.
     */
    DISCRETE("discrete", "normal", "default"),
    /**
     * Karras et al. (2022), eq. 5, {@code rho = 7}, between the model's smallest and largest training
     * sigma ({@code get_sigmas_karras}).
     */
    KARRAS("karras"),
    /**
     * Evenly spaced in log-sigma from the largest to the smallest training sigma (k-diffusion's
     * {@code get_sigmas_exponential}).
     */
    EXPONENTIAL("exponential"),
    /**
     * ComfyUI's {@code sgm_uniform} ({@code normal_scheduler(sgm=True)}): {@code steps + 1} timesteps evenly
     * spaced from the last training timestep to 0, the last one dropped, each turned into its sigma
     * (log-sigma interpolated), then 0. What sgm's samplers and the Turbo models use.
     */
    SGM_UNIFORM("sgm_uniform"),
    /**
     * ComfyUI's {@code simple}: every {@code trainSteps / steps}-th training sigma from the top,
     * {@code sigmas[-(1 + int(i * trainSteps / steps))]}, then 0.
     */
    SIMPLE("simple"),
    /**
     * diffusers' "trailing" timestep spacing ({@code timestep_spacing="trailing"}), which SD-Turbo and
     * SDXL-Turbo use: timesteps {@code round(arange(T, 0, -T / steps)) - 1} (999 for one step; 999, 749,
     * 499, 249 for four), their training sigmas, then 0.
     */
    TRAILING("trailing");

    /** Karras et al.'s rho: larger values put more steps near sigma_min. */
    public static final double KARRAS_RHO = 7.0;

    private final String[] names;

    Schedule(String... names) {
        this.names = names;
    }

    /** The {@code steps + 1} sigmas (last one 0) for a model's training schedule. */
    public double[] sigmas(DiffusionSchedule model, int steps) {
        if (steps < 1) throw new IllegalArgumentException("steps must be at least 1, got " + steps);
        double[] out = new double[steps + 1];
        switch (this) {
            case DISCRETE -> {
                double tMax = model.trainSteps() - 1;
                for (int i = 0; i < steps; i++) out[i] = model.tToSigma(DiffusionSchedule.linspace(tMax, 0, steps, i));
            }
            case KARRAS -> {
                double minInvRho = Math.pow(model.sigmaMin(), 1 / KARRAS_RHO);
                double maxInvRho = Math.pow(model.sigmaMax(), 1 / KARRAS_RHO);
                for (int i = 0; i < steps; i++) {
                    double ramp = DiffusionSchedule.linspace(0, 1, steps, i);
                    out[i] = Math.pow(maxInvRho + ramp * (minInvRho - maxInvRho), KARRAS_RHO);
                }
            }
            case EXPONENTIAL -> {
                double logMax = Math.log(model.sigmaMax()), logMin = Math.log(model.sigmaMin());
                for (int i = 0; i < steps; i++) out[i] = Math.exp(DiffusionSchedule.linspace(logMax, logMin, steps, i));
            }
            case SGM_UNIFORM -> {
                double tMax = model.trainSteps() - 1;
                for (int i = 0; i < steps; i++) out[i] = model.tToSigma(DiffusionSchedule.linspace(tMax, 0, steps + 1, i));
            }
            case SIMPLE -> {
                double stride = (double) model.trainSteps() / steps;
                for (int i = 0; i < steps; i++) out[i] = model.sigma(model.trainSteps() - 1 - (int) (i * stride));
            }
            case TRAILING -> {
                double ratio = (double) model.trainSteps() / steps;
                for (int i = 0; i < steps; i++) {
                    // numpy's arange(T, 0, -ratio)[i] = T - i * ratio, rounded half to even, minus one.
                    out[i] = model.sigma((int) Math.rint(model.trainSteps() - i * ratio) - 1);
                }
            }
        }
        out[steps] = 0;
        return out;
    }

    /** The primary name. */
    public String id() {
        return names[0];
    }

    /** Case-insensitive lookup by name ({@code discrete}/{@code normal}/{@code default}, {@code karras}, {@code sgm_uniform}, ...). */
    public static Schedule parse(String name) {
        String n = name.strip().toLowerCase(Locale.ROOT);
        for (Schedule s : values()) if (Arrays.asList(s.names).contains(n)) return s;
        throw new IllegalArgumentException("unknown schedule '" + name + "'; valid: "
                + Arrays.stream(values()).map(s -> String.join("/", s.names)).collect(Collectors.joining(", ")));
    }
}
