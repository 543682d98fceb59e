package dev.ember.engine.model;

import java.util.Locale;
import java.util.Optional;

/**
 * Element types found in checkpoint files. The float types and ggml's block-quantised types (from gguf
 * files) reach the networks; a block type stores {@link #blockSize()} consecutive elements (in row-major
 * order) in {@link #blockBytes()} bytes, as ggml's {@code block_q*} structs.
 */
public enum DType {
    F64(1, 8, "F64", -1, 28),
    F32(1, 4, "F32", 0, 0),
    F16(1, 2, "F16", 1, 1),
    BF16(1, 2, "BF16", 2, 30),
    I64(1, 8, "I64", -1, 27),
    I32(1, 4, "I32", -1, 26),
    I16(1, 2, "I16", -1, 25),
    I8(1, 1, "I8", -1, 24),
    U8(1, 1, "U8", -1, -1),
    BOOL(1, 1, "BOOL", -1, -1),
    /** ggml's block types: elements per block, bytes per block, EMBER_DTYPE_* code, GGML_TYPE_* id. */
    Q4_0(32, 18, null, 3, 2),
    Q4_1(32, 20, null, 4, 3),
    Q5_0(32, 22, null, 5, 6),
    Q5_1(32, 24, null, 6, 7),
    Q8_0(32, 34, null, 7, 8),
    Q2_K(256, 84, null, 8, 10),
    Q3_K(256, 110, null, 9, 11),
    Q4_K(256, 144, null, 10, 12),
    Q5_K(256, 176, null, 11, 13),
    Q6_K(256, 210, null, 12, 14);

    private final int blockSize;
    private final int blockBytes;
    private final String safetensorsName;
    private final int nativeCode;
    private final int ggmlType;

    DType(int blockSize, int blockBytes, String safetensorsName, int nativeCode, int ggmlType) {
        this.blockSize = blockSize;
        this.blockBytes = blockBytes;
        this.safetensorsName = safetensorsName;
        this.nativeCode = nativeCode;
        this.ggmlType = ggmlType;
    }

    /** Bytes of one element, for the types that store elements one by one (not the block types). */
    public int byteSize() {
        if (isBlock()) throw new IllegalStateException(this + " stores blocks of " + blockSize + " elements, not single elements");
        return blockBytes;
    }

    /**
     * Bytes that {@code elements} elements take.
     *
     * @throws IllegalArgumentException for a block type when {@code elements} is not a whole number of blocks
     */
    public long byteSize(long elements) {
        if (elements % blockSize != 0) {
            throw new IllegalArgumentException(elements + " elements are not a whole number of " + this + " blocks of " + blockSize);
        }
        return Math.multiplyExact(elements / blockSize, (long) blockBytes);
    }

    /** Whether this is one of ggml's block-quantised types. */
    public boolean isBlock() {
        return blockSize > 1;
    }

    /** Elements per block (1 for the plain types). */
    public int blockSize() {
        return blockSize;
    }

    /** Bytes per block (the element size for the plain types). */
    public int blockBytes() {
        return blockBytes;
    }

    /** The name in a safetensors header ("F32", "BF16", ...); null for the block types, which safetensors lacks. */
    public String safetensorsName() {
        return safetensorsName;
    }

    /** The EMBER_DTYPE_* code, for the float and block types libember accepts. */
    public int nativeCode() {
        if (nativeCode < 0) throw new IllegalStateException(this + " tensors cannot be handed to libember");
        return nativeCode;
    }

    /** ggml's {@code GGML_TYPE_*} id (as gguf files store it), or -1 when ggml has none. */
    public int ggmlType() {
        return ggmlType;
    }

    public boolean isFloat() {
        return this == F32 || this == F16 || this == BF16 || this == F64;
    }

    /** Whether libember takes tensors of this type: f32, f16, bf16 and the block types. */
    public boolean reachesNetworks() {
        return nativeCode >= 0;
    }

    public static Optional<DType> fromSafetensors(String name) {
        for (DType t : values()) {
            if (name.equals(t.safetensorsName)) return Optional.of(t);
        }
        return Optional.empty();
    }

    /** The type of a {@code GGML_TYPE_*} id, if Ember reads it. */
    public static Optional<DType> fromGgml(int ggmlType) {
        for (DType t : values()) {
            if (t.ggmlType >= 0 && t.ggmlType == ggmlType) return Optional.of(t);
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
