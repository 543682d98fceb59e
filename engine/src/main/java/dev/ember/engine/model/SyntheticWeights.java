package dev.ember.engine.model;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Seeded values for synthetic checkpoints, the same on every run and machine: conv/linear weights
 * ~ N(0, 1/fan_in) (keeps activations at unit scale through deep stacks), biases ~ N(0, 0.02^2),
 * embeddings ~ N(0, 0.02^2), and norm scales ~ N(1, 0.25^2) and shifts ~ N(0, 0.25^2)
 * ({@link Norms#RANDOM}, the default: a GroupNorm or LayerNorm whose scale or shift is dropped,
 * swapped or read from the wrong layer then changes the output) or exactly 1 and 0
 * ({@link Norms#IDENTITY}, as freshly initialised PyTorch modules).
 *
 * <p>Each tensor draws from its own stream, keyed by the seed and its name, so tensors can be made
 * in any order or in parallel and a tensor's values do not depend on which others exist. The
 * generator is SplitMix64 with Box-Muller in {@link StrictMath}: fully specified arithmetic.
 */
public final class SyntheticWeights {
    private SyntheticWeights() {}

    /** How norm layers (GroupNorm, LayerNorm) get their scale and shift. */
    public enum Norms {
        /** Scale ~ N(1, 0.25^2), shift ~ N(0, 0.25^2): every norm's affine part shows in the output. */
        RANDOM,
        /** Scale 1, shift 0, as PyTorch initialises them (norms then do nothing beyond normalising). */
        IDENTITY;

        /** Case-insensitive: random or identity. */
        public static Norms parse(String name) {
            for (Norms n : values()) if (n.name().equalsIgnoreCase(name.strip())) return n;
            throw new IllegalArgumentException("unknown norms '" + name + "' (expected random or identity)");
        }
    }

    /** Standard deviation of a norm layer's random scale and shift. */
    public static final double NORM_SPREAD = 0.25;

    /** Standard deviation used for a spec of this kind (norms: {@link Norms#RANDOM}'s). */
    public static double stddev(TensorSpec spec) {
        return stddev(spec, Norms.RANDOM);
    }

    static double stddev(TensorSpec spec, Norms norms) {
        return switch (spec.kind()) {
            case WEIGHT -> 1.0 / Math.sqrt(spec.fanIn());
            case BIAS, EMBEDDING -> 0.02;
            case NORM_WEIGHT, NORM_BIAS -> norms == Norms.RANDOM ? NORM_SPREAD : 0.0;
        };
    }

    /** Writes the spec's values into {@code out} (shape x dtype bytes) in the given element type, norms random. */
    public static void fill(TensorSpec spec, long seed, DType dtype, MemorySegment out) {
        fill(spec, seed, dtype, Norms.RANDOM, out);
    }

    /** Writes the spec's values into {@code out} (shape x dtype bytes) in the given element type. */
    public static void fill(TensorSpec spec, long seed, DType dtype, Norms norms, MemorySegment out) {
        long n = spec.elementCount();
        if (out.byteSize() != dtype.byteSize(n)) throw new IllegalArgumentException(spec.name() + ": wrong buffer size");
        double std = stddev(spec, norms);
        double mean = spec.kind() == TensorSpec.Kind.NORM_WEIGHT ? 1.0 : 0.0;
        Gaussian g = new Gaussian(streamSeed(seed, spec.name()));
        for (long i = 0; i < n; i++) {
            double v = std == 0 ? mean : mean + std * g.next();
            write(out, i, dtype, (float) v);
        }
    }

    /** Makes every spec as a heap-free native tensor in {@code arena}, norms random. */
    public static StateDict generate(List<TensorSpec> specs, long seed, DType dtype, Arena arena) {
        return generate(specs, seed, dtype, Norms.RANDOM, arena);
    }

    /** Makes every spec as a heap-free native tensor in {@code arena}. */
    public static StateDict generate(List<TensorSpec> specs, long seed, DType dtype, Norms norms, Arena arena) {
        Map<String, TensorData> tensors = new LinkedHashMap<>();
        for (TensorSpec spec : specs) {
            MemorySegment data = arena.allocate(dtype.byteSize(spec.elementCount()), 8);
            fill(spec, seed, dtype, norms, data);
            tensors.put(spec.name(), new TensorData(spec.name(), dtype, spec.shape(), data));
        }
        return new StateDict(tensors, arena);
    }

    static void write(MemorySegment out, long i, DType dtype, float v) {
        switch (dtype) {
            case F32 -> out.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, v);
            case F16 -> out.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, Float.floatToFloat16(v));
            case BF16 -> out.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, toBf16(v));
            default -> throw new IllegalArgumentException("synthetic weights are f32, f16 or bf16, not " + dtype);
        }
    }

    /** Round-to-nearest-even bf16, as PyTorch converts. */
    static short toBf16(float v) {
        int bits = Float.floatToRawIntBits(v);
        if (Float.isNaN(v)) return (short) 0x7fc0;
        int rounding = 0x7fff + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }

    static long streamSeed(long seed, String name) {
        long h = 0xcbf29ce484222325L; // FNV-1a over the UTF-8 name
        for (byte b : name.getBytes(StandardCharsets.UTF_8)) {
            h ^= b & 0xff;
            h *= 0x100000001b3L;
        }
        return mix(seed ^ mix(h));
    }

    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }

    /** SplitMix64 uniforms through Box-Muller; both outputs of each pair are used. */
    static final class Gaussian {
        private long state;
        private double spare;
        private boolean hasSpare;

        Gaussian(long seed) {
            this.state = seed;
        }

        private double uniform() {
            state += 0x9e3779b97f4a7c15L;
            return ((mix(state) >>> 11) + 0.5) * 0x1.0p-53; // in (0, 1): log() stays finite
        }

        double next() {
            if (hasSpare) {
                hasSpare = false;
                return spare;
            }
            double r = StrictMath.sqrt(-2.0 * StrictMath.log(uniform()));
            double theta = 2.0 * StrictMath.PI * uniform();
            spare = r * StrictMath.sin(theta);
            hasSpare = true;
            return r * StrictMath.cos(theta);
        }
    }
}
