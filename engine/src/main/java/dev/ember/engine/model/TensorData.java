package dev.ember.engine.model;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Objects;

/**
 * One tensor of a checkpoint: its canonical name, element type, shape (outermost first, as in
 * PyTorch) and data (for a block type, the blocks of the flattened elements in row-major order). The data is normally a slice of a memory-mapped file, valid while the
 * {@link StateDict} that handed it out is open.
 */
public record TensorData(String name, DType dtype, long[] shape, MemorySegment data) {
    public TensorData {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(dtype, "dtype");
        shape = shape.clone();
        Objects.requireNonNull(data, "data");
        if (data.byteSize() != dtype.byteSize(elementCount(shape))) {
            throw new IllegalArgumentException(name + ": " + data.byteSize() + " bytes for shape "
                    + Arrays.toString(shape) + " of " + dtype);
        }
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    public long dim(int i) {
        return shape[i];
    }

    public long elementCount() {
        return elementCount(shape);
    }

    /** The same data under another name (canonical renaming never copies). */
    public TensorData renamed(String newName) {
        return new TensorData(newName, dtype, shape, data);
    }

    /** The same data with another shape of equal element count (e.g. a linear weight seen as a 1x1 conv). */
    public TensorData reshaped(long... newShape) {
        return new TensorData(name, dtype, newShape, data);
    }

    public static long elementCount(long[] shape) {
        long n = 1;
        for (long d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorData t && name.equals(t.name) && dtype == t.dtype && Arrays.equals(shape, t.shape)
                && data.byteSize() == t.data.byteSize() && data.mismatch(t.data) == -1;
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, dtype, Arrays.hashCode(shape));
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape);
    }
}
