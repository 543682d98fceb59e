package dev.ember.engine.model;

import dev.ember.engine.ModelFileException;
import dev.ember.engine.sampling.DiffusionSchedule;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;

/**
 * A checkpoint's own training schedule: LDM single files store {@code alphas_cumprod} (a float32 buffer
 * of the {@code LatentDiffusion} module), which k-diffusion's {@code CompVisDenoiser} and A1111 turn into
 * sigmas. Ember does the same when the file has it in f32 or f64; f16/bf16 copies (a converter's
 * rounding) are too coarse (sigma_min would move by ~1e-3) and are left unused.
 */
final class TrainingSchedule {
    static final String ALPHAS_CUMPROD = "alphas_cumprod";

    private TrainingSchedule() {}

    /** Whether {@code t} can be read as a schedule: a 1-D f32 or f64 tensor. */
    static boolean usable(TensorData t) {
        return t.rank() == 1 && (t.dtype() == DType.F32 || t.dtype() == DType.F64);
    }

    /** The schedule of a usable {@code alphas_cumprod}; a malformed one is a corrupt file. */
    static DiffusionSchedule read(Path file, TensorData t) {
        int n = Math.toIntExact(t.elementCount());
        double[] values = new double[n];
        for (int i = 0; i < n; i++) {
            values[i] = t.dtype() == DType.F32
                    ? t.data().getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), i)
                    : t.data().getAtIndex(ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), i);
        }
        try {
            return DiffusionSchedule.fromAlphasCumprod(values);
        } catch (IllegalArgumentException e) {
            throw new ModelFileException(file, "unusable " + ALPHAS_CUMPROD + ": " + e.getMessage());
        }
    }
}
