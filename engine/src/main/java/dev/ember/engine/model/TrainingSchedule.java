package dev.ember.engine.model;

import dev.ember.engine.sampling.DiffusionSchedule;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * A checkpoint's own training schedule: LDM single files store {@code alphas_cumprod} (a float32 buffer
 * of the {@code LatentDiffusion} module), which k-diffusion's {@code CompVisDenoiser} and A1111 turn into
 * sigmas. Ember does the same when the file has a usable one in f32 or f64. f16/bf16 copies (a
 * converter's rounding) are too coarse (sigma_min would move by ~1e-3), and a malformed one (values
 * outside (0, 1), noise not growing with t) cannot be a schedule: those are left unused, with the reason
 * reported, and SD's own schedule is used.
 */
final class TrainingSchedule {
    static final String ALPHAS_CUMPROD = "alphas_cumprod";

    private TrainingSchedule() {}

    /** Why {@code t} cannot be used as the schedule, or null when it can. */
    static String problem(TensorData t) {
        if (t.rank() != 1 || t.elementCount() < 2) return "shape " + java.util.Arrays.toString(t.shape()) + " is not a list of timesteps";
        if (t.dtype() != DType.F32 && t.dtype() != DType.F64) return "it is " + t.dtype() + ", too coarse";
        try {
            DiffusionSchedule.fromAlphasCumprod(values(t));
            return null;
        } catch (IllegalArgumentException e) {
            return e.getMessage();
        }
    }

    /** The schedule of an {@code alphas_cumprod} that {@link #problem} accepts. */
    static DiffusionSchedule read(TensorData t) {
        return DiffusionSchedule.fromAlphasCumprod(values(t));
    }

    private static double[] values(TensorData t) {
        int n = Math.toIntExact(t.elementCount());
        double[] values = new double[n];
        for (int i = 0; i < n; i++) {
            values[i] = t.dtype() == DType.F32
                    ? t.data().getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), i)
                    : t.data().getAtIndex(ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), i);
        }
        return values;
    }
}
