package dev.ember.engine.model;

/** The on-disk formats Ember reads and writes. */
public enum ModelFormat {
    /** One {@code .safetensors} file, LDM single-file names (or diffusers/OpenCLIP names, mapped on load). */
    SAFETENSORS("safetensors"),
    /** A PyTorch zip checkpoint ({@code .ckpt}, {@code .pt}, {@code .pth}, {@code .bin}) read by a restricted unpickler. */
    CKPT("ckpt"),
    /** A diffusers folder: {@code model_index.json}, {@code unet/}, {@code vae/}, {@code text_encoder/}. */
    DIFFUSERS("diffusers"),
    /** A gguf file (ggml's format; stable-diffusion.cpp's and city96's), f16/f32 or block-quantised tensors. */
    GGUF("gguf");

    private final String label;

    ModelFormat(String label) {
        this.label = label;
    }

    /** The user-facing name (as {@code --format} takes it). */
    public String label() {
        return label;
    }

    /** Parses safetensors, ckpt or diffusers (case-insensitive). */
    public static ModelFormat parse(String s) {
        for (ModelFormat f : values()) if (f.label.equalsIgnoreCase(s)) return f;
        throw new IllegalArgumentException("unknown format '" + s + "' (expected safetensors, ckpt, diffusers or gguf)");
    }
}
