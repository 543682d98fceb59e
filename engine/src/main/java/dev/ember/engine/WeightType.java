package dev.ember.engine;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * How matrix weights are stored on the device. Norms, biases and embeddings always stay f32. A
 * block-quantised type applies where a weight's rows split into its blocks (32 elements; 256 for the
 * K types), the rest stays f16; a weight whose file already holds that type (a gguf) is kept as it is.
 */
public enum WeightType {
    /** f32 files stay f32; f16/bf16 files become f16; block-quantised weights (gguf) stay as they are. */
    AUTO(0),
    F32(1),
    F16(2),
    /** 8-bit blocks, about half of f16's memory, error around 1e-2. */
    Q8_0(3),
    /** 4-bit blocks, about a quarter of f16's memory; noticeably lossy. */
    Q4_0(4),
    /** ggml's other block types, as gguf files hold them (5 and 4 bits with and without offsets; the K types). */
    Q4_1(5),
    Q5_0(6),
    Q5_1(7),
    Q2_K(8),
    Q3_K(9),
    Q4_K(10),
    Q5_K(11),
    Q6_K(12),
    /**
     * bf16 matrix weights for the UNet and text encoder, CPU only (the VAE keeps f16): f16's memory, products
     * in bf16 (8-bit mantissa: about 8x f16's rounding error), which AVX-512 BF16 CPUs run with their own
     * dot-product instructions (docs/performance.md, "bf16").
     */
    BF16(13);

    private final int nativeCode;

    WeightType(int nativeCode) {
        this.nativeCode = nativeCode;
    }

    /** The EMBER_WEIGHT_* code. */
    public int nativeCode() {
        return nativeCode;
    }

    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The type of an EMBER_WEIGHT_* code. */
    public static WeightType ofNativeCode(int code) {
        for (WeightType t : values()) if (t.nativeCode == code) return t;
        throw new IllegalArgumentException("unknown EMBER_WEIGHT code " + code);
    }

    public static WeightType parse(String name) {
        for (WeightType t : values()) if (t.id().equalsIgnoreCase(name.strip())) return t;
        throw new IllegalArgumentException("unknown weight type '" + name + "'; valid: "
                + Arrays.stream(values()).map(WeightType::id).collect(Collectors.joining(", ")));
    }
}
