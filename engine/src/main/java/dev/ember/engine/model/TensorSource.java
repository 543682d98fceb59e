package dev.ember.engine.model;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * A tensor to be written: name, type, shape and a filler that writes its bytes into a buffer of
 * exactly shape x dtype bytes. Writers ask for one tensor at a time, so a checkpoint larger than the
 * heap (the full-size presets) streams through one tensor-sized buffer.
 */
public record TensorSource(String name, DType dtype, long[] shape, Consumer<MemorySegment> filler) {
    public TensorSource {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(dtype, "dtype");
        Objects.requireNonNull(filler, "filler");
        shape = shape.clone();
        TensorData.elementCount(shape);
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    public long byteSize() {
        return dtype.byteSize(TensorData.elementCount(shape));
    }

    /** The same bytes under another name and shape (element count must match). */
    public TensorSource as(String newName, long... newShape) {
        if (TensorData.elementCount(newShape) != TensorData.elementCount(shape)) {
            throw new IllegalArgumentException(name + ": cannot view " + Arrays.toString(shape) + " as " + Arrays.toString(newShape));
        }
        return new TensorSource(newName, dtype, newShape, filler);
    }

    /** Seeded synthetic values ({@link SyntheticWeights}, norms random) for a layout entry. */
    public static TensorSource synthetic(TensorSpec spec, long seed, DType dtype) {
        return synthetic(spec, seed, dtype, SyntheticWeights.Norms.RANDOM);
    }

    /** Seeded synthetic values ({@link SyntheticWeights}) for a layout entry. */
    public static TensorSource synthetic(TensorSpec spec, long seed, DType dtype, SyntheticWeights.Norms norms) {
        return new TensorSource(spec.name(), dtype, spec.shape(), out -> SyntheticWeights.fill(spec, seed, dtype, norms, out));
    }

    /** The bytes of existing tensor data (which must stay valid until written). */
    public static TensorSource of(TensorData t) {
        return new TensorSource(t.name(), t.dtype(), t.shape(), out -> MemorySegment.copy(t.data(), 0, out, 0, out.byteSize()));
    }
}
