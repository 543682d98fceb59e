package dev.ember.engine;

import dev.ember.bindings.ember_h;
import java.util.Locale;

/**
 * Whether the networks use fused attention (no score matrix in memory: a fifth of the compute memory at
 * 512 pixels, and faster). On the CPU it is Ember's own f32 kernel (~5e-7 relative error); on GPUs ggml's
 * {@code ggml_flash_attn_ext}, which rounds K and V to f16 (about 4e-4 on the UNet's output).
 * docs/performance.md has the figures.
 */
public enum FlashAttention {
    /** On for networks whose matrix weights are not f32; f32 weights keep every product exact. */
    AUTO(ember_h.EMBER_FLASH_ATTENTION_AUTO()),
    ON(1),
    OFF(0);

    private final int nativeCode;

    FlashAttention(int nativeCode) {
        this.nativeCode = nativeCode;
    }

    /** The value of {@code ember_context_params.flash_attention}. */
    public int nativeCode() {
        return nativeCode;
    }

    /** Whether a network whose matrix weights are stored as {@code stored} (never AUTO) uses it. */
    public boolean usedWith(WeightType stored) {
        if (stored == WeightType.AUTO) throw new IllegalArgumentException("the stored weight type, not AUTO");
        return this == ON || (this == AUTO && stored != WeightType.F32);
    }

    public static FlashAttention of(boolean on) {
        return on ? ON : OFF;
    }

    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static FlashAttention parse(String name) {
        for (FlashAttention f : values()) if (f.id().equalsIgnoreCase(name.strip())) return f;
        throw new IllegalArgumentException("unknown flash attention setting '" + name + "'; valid: auto, on, off");
    }
}
