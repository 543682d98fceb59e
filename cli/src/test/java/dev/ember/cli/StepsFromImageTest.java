package dev.ember.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class StepsFromImageTest {
    @Test
    void theGuidesExampleAndFloatTraps() {
        assertEquals(50, StepsFromImage.totalSteps(20, 0.4));
        assertEquals(10, StepsFromImage.totalSteps(7, 0.7));
        assertEquals(30, StepsFromImage.totalSteps(21, 0.7)); // 21 / 0.7 = 30.000000000000004
        assertEquals(101, StepsFromImage.totalSteps(29, 0.29)); // int(100 * 0.29) = 28
        assertEquals(12, StepsFromImage.totalSteps(12, 1.0));
    }

    @Test
    void alwaysTheSmallestTotalThatRunsExactlyN() {
        for (int n = 1; n <= 150; n++) {
            for (int k = 1; k <= 100; k++) {
                double s = k / 100.0;
                int total = StepsFromImage.totalSteps(n, s);
                assertEquals(n, (int) (total * s), n + " at " + s);
                assertTrue(total == 1 || (int) ((total - 1) * s) < n, n + " at " + s + ": " + total + " is not the smallest");
            }
        }
    }

    @Test
    void zeroStrengthOrStepsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> StepsFromImage.totalSteps(20, 0));
        assertThrows(IllegalArgumentException.class, () -> StepsFromImage.totalSteps(0, 0.5));
        assertThrows(IllegalArgumentException.class, () -> StepsFromImage.totalSteps(5, 1.5));
    }
}
