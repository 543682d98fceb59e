package dev.ember.engine.model;

import java.util.Locale;
import java.util.Optional;

/** Element types found in checkpoint files. Only the float types reach the networks. */
public enum DType {
    F64(8, "F64", -1),
    F32(4, "F32", 0),
    F16(2, "F16", 1),
    BF16(2, "BF16", 2),
    I64(8, "I64", -1),
    I32(4, "I32", -1),
    I16(2, "I16", -1),
    I8(1, "I8", -1),
    U8(1, "U8", -1),
    BOOL(1, "BOOL", -1);

    private final int byteSize;
    private final String safetensorsName;
    private final int nativeCode;

    DType(int byteSize, String safetensorsName, int nativeCode) {
        this.byteSize = byteSize;
        this.safetensorsName = safetensorsName;
        this.nativeCode = nativeCode;
    }

    public int byteSize() {
        return byteSize;
    }

    /** The name in a safetensors header ("F32", "BF16", ...). */
    public String safetensorsName() {
        return safetensorsName;
    }

    /** The EMBER_DTYPE_* code, for the float types libember accepts. */
    public int nativeCode() {
        if (nativeCode < 0) throw new IllegalStateException(this + " tensors cannot be handed to libember");
        return nativeCode;
    }

    public boolean isFloat() {
        return this == F32 || this == F16 || this == BF16 || this == F64;
    }

    public static Optional<DType> fromSafetensors(String name) {
        for (DType t : values()) {
            if (t.safetensorsName.equals(name)) return Optional.of(t);
        }
        return Optional.empty();
    }

    /** Parses a user-facing name: f32, f16, bf16 (case-insensitive). */
    public static DType parse(String name) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "f32", "float32", "fp32" -> F32;
            case "f16", "float16", "fp16", "half" -> F16;
            case "bf16", "bfloat16" -> BF16;
            default -> throw new IllegalArgumentException("unknown dtype '" + name + "' (expected f32, f16 or bf16)");
        };
    }
}
