package dev.ember.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.ember.engine.image.RgbImage;
import org.junit.jupiter.api.Test;

class StepStripTest {
    @Test
    void stripsPutFramesSideBySideWithGaps() {
        byte[] white = new byte[4 * 2 * 3];
        java.util.Arrays.fill(white, (byte) 255);
        RgbImage strip = StepStrip.compose(java.util.List.of(new RgbImage(4, 2, new byte[4 * 2 * 3]), new RgbImage(4, 2, white)));
        assertEquals(4 + StepStrip.GAP + 4, strip.width());
        assertEquals(2, strip.height());
        assertEquals(0x000000, strip.pixel(3, 1));
        assertEquals(0x303030, strip.pixel(4, 0));
        assertEquals(0xffffff, strip.pixel(4 + StepStrip.GAP, 1));
    }
}
