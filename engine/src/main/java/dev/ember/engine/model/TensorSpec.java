package dev.ember.engine.model;

import java.util.Arrays;
import java.util.Objects;

/**
 * A tensor a network needs: canonical name, PyTorch-order shape and what kind of parameter it is
 * (the kind decides how synthetic checkpoints initialise it).
 */
public record TensorSpec(String name, long[] shape, Kind kind) {
    /** The kinds of the reference list: w, b, nw, nb, e. */
    public enum Kind {
        WEIGHT("w"), BIAS("b"), NORM_WEIGHT("nw"), NORM_BIAS("nb"), EMBEDDING("e");

        private final String code;

        Kind(String code) {
            this.code = code;
        }

        public String code() {
            return code;
        }

        public static Kind fromCode(String code) {
            for (Kind k : values()) if (k.code.equals(code)) return k;
            throw new IllegalArgumentException("unknown tensor kind '" + code + "'");
        }
    }

    public TensorSpec {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(kind, "kind");
        shape = shape.clone();
        TensorData.elementCount(shape);
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    public long elementCount() {
        return TensorData.elementCount(shape);
    }

    /** Inputs per output unit: every dimension but the first (for a conv, in x kh x kw). */
    public long fanIn() {
        long n = 1;
        for (int i = 1; i < shape.length; i++) n *= shape[i];
        return n;
    }

    public boolean sameShape(long[] other) {
        return Arrays.equals(shape, other);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorSpec t && name.equals(t.name) && Arrays.equals(shape, t.shape) && kind == t.kind;
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + Arrays.hashCode(shape);
    }

    @Override
    public String toString() {
        return name + " " + Arrays.toString(shape) + " " + kind.code;
    }
}
