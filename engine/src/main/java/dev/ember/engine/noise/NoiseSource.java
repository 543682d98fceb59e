package dev.ember.engine.noise;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * Where initial latents and ancestral noise come from. mt19937 reproduces torch on the CPU (up to a
 * last-place rounding difference in the transcendental functions); Philox reproduces AUTOMATIC1111's
 * {@code rng_philox.py} bit for bit, and torch on a GPU to within 3e-7 (its hardware sine), so a seed
 * gives the same image as in the Python tools that use the same generator.
 */
public enum NoiseSource {
    /** {@code torch.randn} on a CUDA device (Philox4x32-10 + Box-Muller), as AUTOMATIC1111's "GPU" seeds ({@link PhiloxNoise}). */
    PHILOX("philox", "cuda", "gpu"),
    /** {@code torch.randn} on the CPU (mt19937), as AUTOMATIC1111's "CPU" seeds and diffusers on CPU. */
    MT19937("mt19937", "cpu", "torch-cpu");

    private final String[] names;

    NoiseSource(String... names) {
        this.names = names;
    }

    /** A fresh generator seeded as {@code torch.manual_seed(seed)} (Philox keeps all 64 bits, mt19937 the low 32). */
    public NoiseGenerator generator(long seed) {
        return switch (this) {
            case PHILOX -> new PhiloxNoise(seed);
            case MT19937 -> new Mt19937Noise(seed);
        };
    }

    /** {@code count} values of a fresh generator: {@code torch.manual_seed(seed); torch.randn(count)}. */
    public float[] randn(long seed, int count) {
        return generator(seed).next(count);
    }

    /** The primary name used on the command line and in metadata. */
    public String id() {
        return names[0];
    }

    /** Case-insensitive lookup by name or alias ({@code philox}/{@code cuda}/{@code gpu}, {@code mt19937}/{@code cpu}). */
    public static NoiseSource parse(String name) {
        String n = name.strip().toLowerCase(Locale.ROOT);
        for (NoiseSource s : values()) {
            if (Arrays.asList(s.names).contains(n) || s.name().toLowerCase(Locale.ROOT).equals(n)) return s;
        }
        throw new IllegalArgumentException("unknown noise source '" + name + "'; valid: "
                + Arrays.stream(values()).map(s -> String.join("/", s.names)).collect(Collectors.joining(", ")));
    }
}
