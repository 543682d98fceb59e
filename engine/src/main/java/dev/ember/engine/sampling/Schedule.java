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
    KARRAS("karras");

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
        }
        out[steps] = 0;
        return out;
    }

    /** The primary name. */
    public String id() {
        return names[0];
    }

    /** Case-insensitive lookup by name ({@code discrete}/{@code normal}/{@code default}, {@code karras}). */
    public static Schedule parse(String name) {
        String n = name.strip().toLowerCase(Locale.ROOT);
        for (Schedule s : values()) if (Arrays.asList(s.names).contains(n)) return s;
        throw new IllegalArgumentException("unknown schedule '" + name + "'; valid: "
                + Arrays.stream(values()).map(s -> String.join("/", s.names)).collect(Collectors.joining(", ")));
    }
}
