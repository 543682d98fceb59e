package dev.ember.engine;

import java.util.Locale;

/**
 * What the masked area starts from, as AUTOMATIC1111's "masked content" ({@code inpainting_fill}, whose
 * numbers are {@link #a1111Index()}). Every mode but {@link #ORIGINAL} first fills the masked pixels from
 * their surroundings (A1111's {@code masking.fill}) before the init image is encoded.
 */
public enum InpaintFill {
    /** 0: the masked pixels filled with a blur of the kept ones, then encoded. */
    FILL,
    /** 1: the init image as it is. */
    ORIGINAL,
    /** 2: the masked latent replaced by the image's own noise (the seed's first draw, as A1111's). */
    LATENT_NOISE,
    /** 3: the masked latent set to zero. */
    LATENT_NOTHING;

    /** A1111's {@code inpainting_fill} number: the declaration order. */
    public int a1111Index() {
        return ordinal();
    }

    public String id() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /** By A1111's number (0-3). */
    public static InpaintFill ofA1111(int index) {
        if (index < 0 || index >= values().length) {
            throw new IllegalArgumentException("inpainting_fill must be 0 (fill), 1 (original), 2 (latent noise) or 3 (latent nothing), got " + index);
        }
        return values()[index];
    }

    /** Case-insensitive id (fill, original, latent-noise, latent-nothing; '_' or ' ' for '-') or A1111's number. */
    public static InpaintFill parse(String name) {
        String n = name.strip().toLowerCase(Locale.ROOT).replace('_', '-').replace(' ', '-');
        if (n.length() == 1 && Character.isDigit(n.charAt(0))) return ofA1111(n.charAt(0) - '0');
        for (InpaintFill f : values()) if (f.id().equals(n)) return f;
        throw new IllegalArgumentException("unknown inpaint fill '" + name + "'; valid: fill, original, latent-noise, latent-nothing (or 0-3)");
    }
}
