package dev.ember.engine;

import java.nio.file.Path;
import java.util.Objects;

/**
 * A LoRA to apply to a generation: its file and weight (A1111's multiplier; 1 = as trained, 0 = off,
 * negative values invert it). In prompts the same is written {@code <lora:NAME:WEIGHT>}, NAME being the
 * file name without extension inside {@link AddOns#loraDir()}.
 */
public record Lora(Path file, double weight) {
    /** Weights beyond this are refused: they only make noise, and usually mean a typo. */
    public static final double MAX_WEIGHT = 10;

    public Lora {
        Objects.requireNonNull(file, "file");
        if (!Double.isFinite(weight) || Math.abs(weight) > MAX_WEIGHT) {
            throw new IllegalArgumentException("LoRA weight must be between -" + MAX_WEIGHT + " and " + MAX_WEIGHT + ", got " + weight);
        }
    }

    /** The file name without its extension. */
    public String name() {
        String n = file.getFileName().toString();
        int dot = n.lastIndexOf('.');
        return dot > 0 ? n.substring(0, dot) : n;
    }
}
