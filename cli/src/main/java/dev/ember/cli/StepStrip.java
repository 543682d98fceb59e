package dev.ember.cli;

import dev.ember.engine.image.RgbImage;
import java.util.List;

/** Lays images of one size side by side, left to right, with small gaps: the strip of a run's steps. */
final class StepStrip {
    /** Gap between frames, in pixels. */
    static final int GAP = 4;
    /** Gap colour: a dark grey that neither noise nor a finished picture is likely to match. */
    private static final byte GAP_GREY = 0x30;

    private StepStrip() {}

    static RgbImage compose(List<RgbImage> frames) {
        if (frames.isEmpty()) throw new IllegalArgumentException("a strip needs at least one frame");
        int w = frames.getFirst().width(), h = frames.getFirst().height();
        for (RgbImage f : frames) {
            if (f.width() != w || f.height() != h) {
                throw new IllegalArgumentException("strip frames differ in size: " + w + "x" + h + " and " + f.width() + "x" + f.height());
            }
        }
        int width = Math.addExact(Math.multiplyExact(frames.size(), w), (frames.size() - 1) * GAP);
        byte[] out = new byte[Math.multiplyExact(Math.multiplyExact(width, h), 3)];
        java.util.Arrays.fill(out, GAP_GREY);
        for (int i = 0; i < frames.size(); i++) {
            byte[] rgb = frames.get(i).rgb();
            int x0 = i * (w + GAP);
            for (int y = 0; y < h; y++) System.arraycopy(rgb, y * w * 3, out, (y * width + x0) * 3, w * 3);
        }
        return new RgbImage(width, h, out);
    }
}
