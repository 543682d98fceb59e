package dev.ember.engine.model;

import java.util.Locale;

/** What the UNet predicts: the noise (epsilon) or the velocity v (SD 2.x 768-v models). */
public enum Prediction {
    EPS("eps"),
    V("v");

    private final String label;

    Prediction(String label) {
        this.label = label;
    }

    public String label() {
        return label;
    }

    /** Parses eps/epsilon or v/v_prediction (diffusers' scheduler names included), case-insensitive. */
    public static Prediction parse(String s) {
        return switch (s.trim().toLowerCase(Locale.ROOT)) {
            case "eps", "epsilon" -> EPS;
            case "v", "v_prediction", "v-prediction" -> V;
            default -> throw new IllegalArgumentException("unknown prediction type '" + s + "' (expected eps or v)");
        };
    }
}
