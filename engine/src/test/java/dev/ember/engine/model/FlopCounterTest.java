package dev.ember.engine.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** FLOP counts against the reference numbers of shared/reference/README.md (within 0.1%). */
class FlopCounterTest {
    private static void near(double expectedGflop, double actualFlops) {
        double actual = actualFlops / 1e9;
        assertTrue(Math.abs(actual - expectedGflop) <= 1e-3 * expectedGflop,
                "expected " + expectedGflop + " GFLOP within 0.1%, got " + actual);
    }

    @Test
    void unetCfgStepOfSd15() {
        near(360.1, FlopCounter.unet(UnetConfig.SD1, 2, 32, 32, 77));
        near(845.9, FlopCounter.unet(UnetConfig.SD1, 2, 48, 48, 77));
        near(1606.4, FlopCounter.unet(UnetConfig.SD1, 2, 64, 64, 77));
    }

    @Test
    void vaeOfSd() {
        near(622.2, FlopCounter.vaeDecoder(VaeConfig.SD, 1, 256, 256));
        near(2514.5, FlopCounter.vaeDecoder(VaeConfig.SD, 1, 512, 512));
        near(272.7, FlopCounter.vaeEncoder(VaeConfig.SD, 1, 256, 256));
        near(1116.7, FlopCounter.vaeEncoder(VaeConfig.SD, 1, 512, 512));
    }

    @Test
    void scalesWithBatch() {
        assertEquals(2 * FlopCounter.unet(UnetConfig.SD1, 1, 32, 32, 77), FlopCounter.unet(UnetConfig.SD1, 2, 32, 32, 77), 1.0);
        assertEquals(3 * FlopCounter.vaeDecoder(VaeConfig.SD, 1, 256, 256), FlopCounter.vaeDecoder(VaeConfig.SD, 3, 256, 256), 1.0);
    }

    @Test
    void textEncoderOfSd15() {
        // 12 layers x 77 tokens: 2 x (4 d^2 + 2 d i) x 77 + 2 x 2 x 77^2 x d per layer, d = 768, i = 3072.
        double perLayer = 2.0 * 77 * (4.0 * 768 * 768 + 2.0 * 768 * 3072) + 4.0 * 77 * 77 * 768;
        assertEquals(12 * perLayer, FlopCounter.textEncoder(TextEncoderConfig.SD1, 1, 77), 1.0);
    }
}
