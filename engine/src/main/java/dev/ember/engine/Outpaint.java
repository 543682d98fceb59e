package dev.ember.engine;

import dev.ember.engine.image.RgbImage;
import java.util.Locale;

/**
 * Outpainting: the canvas extended by so many pixels on each side, the new area pre-filled with the nearest
 * edge pixel and masked, so that inpainting paints it ({@link #extend}, {@link #mask}). Written as
 * {@code left=128,top=64} ({@link #parse}, {@link #toString}); unnamed sides add nothing.
 */
public record Outpaint(int left, int top, int right, int bottom) {
    public static final int MAX = 1024;

    public Outpaint {
        for (int v : new int[] {left, top, right, bottom}) {
            if (v < 0 || v > MAX) throw new IllegalArgumentException("outpaint sides must be between 0 and " + MAX + " pixels, got " + v);
        }
        if (left + top + right + bottom == 0) throw new IllegalArgumentException("outpaint needs at least one side to extend, e.g. left=128");
    }

    /** {@code left=128,top=64,...} (sides left, top, right, bottom, each once; an empty value list is refused). */
    public static Outpaint parse(String text) {
        int[] v = new int[4];
        boolean[] seen = new boolean[4];
        for (String part : text.split(",")) {
            String[] kv = part.strip().split("=", -1);
            int side = kv.length != 2 ? -1 : switch (kv[0].strip().toLowerCase(Locale.ROOT)) {
                case "left" -> 0;
                case "top" -> 1;
                case "right" -> 2;
                case "bottom" -> 3;
                default -> -1;
            };
            if (side < 0) throw new IllegalArgumentException("outpaint '" + text + "': expected SIDE=PIXELS, SIDE one of left, top, right, bottom");
            if (seen[side]) throw new IllegalArgumentException("outpaint '" + text + "' names " + kv[0].strip() + " twice");
            seen[side] = true;
            try {
                v[side] = Integer.parseInt(kv[1].strip());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("outpaint '" + text + "': " + kv[1].strip() + " is not a whole number of pixels");
            }
        }
        return new Outpaint(v[0], v[1], v[2], v[3]);
    }

    /** The picture on the larger canvas, each new pixel a copy of the nearest pixel of the original. */
    public RgbImage extend(RgbImage image) {
        int w = image.width() + left + right, h = image.height() + top + bottom;
        byte[] src = image.rgb(), out = new byte[w * h * 3];
        for (int y = 0; y < h; y++) {
            int sy = Math.clamp(y - top, 0, image.height() - 1);
            for (int x = 0; x < w; x++) {
                int sx = Math.clamp(x - left, 0, image.width() - 1);
                System.arraycopy(src, (sy * image.width() + sx) * 3, out, (y * w + x) * 3, 3);
            }
        }
        return new RgbImage(w, h, out);
    }

    /** The mask for {@link #extend}ed {@code image}: white on the new area, black on the original. */
    public RgbImage mask(RgbImage image) {
        int w = image.width() + left + right, h = image.height() + top + bottom;
        byte[] out = new byte[w * h * 3];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                boolean inside = x >= left && x < left + image.width() && y >= top && y < top + image.height();
                if (!inside) out[(y * w + x) * 3] = out[(y * w + x) * 3 + 1] = out[(y * w + x) * 3 + 2] = (byte) 255;
            }
        }
        return new RgbImage(w, h, out);
    }

    @Override
    public String toString() {
        return "left=" + left + ",top=" + top + ",right=" + right + ",bottom=" + bottom;
    }
}
