package dev.ember.engine;

import java.util.Locale;

/** How matrix weights are stored on the device. Norms, biases and embeddings always stay f32. */
public enum WeightType {
    /** f32 files stay f32; f16/bf16 files become f16. */
    AUTO(0),
    F32(1),
    F16(2),
    /** 8-bit blocks, about half of f16's memory, error around 1e-2. */
    Q8_0(3),
    /** 4-bit blocks, about a quarter of f16's memory; noticeably lossy. */
    Q4_0(4),
    /**
     * bf16 matrix weights for the UNet and text encoder, CPU only (the VAE keeps f16): f16's memory, products
     * in bf16 (8-bit mantissa: about 8x f16's rounding error), which AVX-512 BF16 CPUs run with their own
     * dot-product instructions (docs/performance.md, "bf16").
     */
    BF16(5);

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

    public static WeightType parse(String name) {
        for (WeightType t : values()) if (t.id().equalsIgnoreCase(name.strip())) return t;
        throw new IllegalArgumentException("unknown weight type '" + name + "'; valid: auto, f32, f16, q8_0, q4_0, bf16");
    }
}
