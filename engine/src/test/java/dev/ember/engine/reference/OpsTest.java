package dev.ember.engine.reference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The reference blocks themselves, on cases small enough to work out by hand. */
class OpsTest {
    @Test
    void erfMatchesKnownValues() {
        // erf(0.5), erf(1), erf(2), erf(3) from standard tables (15+ digits).
        assertEquals(0.5204998778130465, Ops.erf(0.5), 1e-15);
        assertEquals(0.8427007929497149, Ops.erf(1.0), 1e-15);
        assertEquals(0.9953222650189527, Ops.erf(2.0), 1e-15);
        assertEquals(0.9999779095030014, Ops.erf(3.0), 1e-15);
        assertEquals(-Ops.erf(1.3), Ops.erf(-1.3), 0);
    }

    @Test
    void conv2dOfAKnownKernel() {
        // 1x1x3x3 input 1..9, 3x3 kernel of ones, pad 1: each output is the sum of its neighbourhood.
        double[] x = {1, 2, 3, 4, 5, 6, 7, 8, 9};
        double[] w = {1, 1, 1, 1, 1, 1, 1, 1, 1};
        double[] y = Ops.conv2d(x, 1, 1, 3, 3, w, new double[] {0.5}, 1, 3, 1, 1);
        assertArrayEquals(new double[] {12.5, 21.5, 16.5, 27.5, 45.5, 33.5, 24.5, 39.5, 28.5}, y, 1e-12);
        double[] strided = Ops.conv2d(x, 1, 1, 3, 3, w, null, 1, 3, 2, 1);
        assertArrayEquals(new double[] {12, 16, 24, 28}, strided, 1e-12);
    }

    @Test
    void attentionWithOneKeyReturnsItsValue() {
        double[] q = {1, 2}, k = {3, 4}, v = {5, 6};
        assertArrayEquals(new double[] {5, 6}, Ops.attention(q, k, v, 1, 1, 1, 2, false), 1e-12);
        // Causal: the first query sees only the first key.
        double[] q2 = {1, 0, 1, 0}, k2 = {1, 0, 100, 0}, v2 = {1, 1, 9, 9};
        double[] out = Ops.attention(q2, k2, v2, 2, 2, 1, 2, true);
        assertArrayEquals(new double[] {1, 1}, new double[] {out[0], out[1]}, 1e-12);
    }

    @Test
    void groupNormNormalisesEachGroup() {
        double[] x = {1, 3, 10, 30};
        double[] y = Ops.groupNorm(x, 1, 2, 2, 2, 0, new double[] {1, 1}, new double[] {0, 0});
        assertArrayEquals(new double[] {-1, 1, -1, 1}, y, 1e-12);
    }
}
