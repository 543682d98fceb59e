package dev.ember.engine.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.ember.engine.SizeConditioning;
import org.junit.jupiter.api.Test;

/**
 * SDXL's vector conditioning against a float64 reference written from sgm's definition:
 * {@code GeneralConditioner} concatenates the bigG pooled output with three
 * {@code ConcatTimestepEmbedderND(256)} outputs, for original_size_as_tuple (height, width),
 * crop_coords_top_left (top, left) and target_size_as_tuple (height, width); each number goes through
 * {@code timestep_embedding(t, 256)}: {@code [cos(t f_i) | sin(t f_i)]}, {@code f_i = 10000^(-i/128)}.
 */
class VectorConditioningTest {
    private static double[] reference(float[] pooled, double[][] pairs, int dim) {
        double[] y = new double[pooled.length + 6 * dim];
        for (int i = 0; i < pooled.length; i++) y[i] = pooled[i];
        int half = dim / 2, at = pooled.length;
        for (double[] pair : pairs) {
            for (double v : pair) {
                for (int i = 0; i < half; i++) {
                    double f = Math.pow(10000, -(double) i / half);
                    y[at + i] = Math.cos(v * f);
                    y[at + half + i] = Math.sin(v * f);
                }
                at += dim;
            }
        }
        return y;
    }

    @Test
    void matchesSgmsLayout() {
        float[] pooled = new float[1280];
        for (int i = 0; i < pooled.length; i++) pooled[i] = (float) Math.sin(i * 0.37);
        SizeConditioning s = new SizeConditioning(1152, 896, 16, 32, 1024, 768); // width, height, top, left, width, height
        float[] y = VectorConditioning.of(pooled, s, 256);
        double[] expected = reference(pooled, new double[][] {{896, 1152}, {16, 32}, {768, 1024}}, 256);
        assertEquals(2816, y.length);
        for (int i = 0; i < y.length; i++) assertEquals(expected[i], y[i], 1e-6, "index " + i);
    }

    @Test
    void theDefaultIsTheImageSizeWithNoCrop() {
        float[] y = VectorConditioning.of(new float[4], SizeConditioning.of(832, 1216), 8);
        double[] expected = reference(new float[4], new double[][] {{1216, 832}, {0, 0}, {1216, 832}}, 8);
        for (int i = 0; i < y.length; i++) assertEquals(expected[i], y[i], 1e-6, "index " + i);
        // crop (0, 0): cos 1, sin 0 across both of its embeddings
        for (int i = 4 + 16; i < 4 + 32; i++) assertEquals((i - 20) % 8 < 4 ? 1f : 0f, y[i], 0f, "crop index " + i);
    }

    @Test
    void sizesAreChecked() {
        assertThrows(IllegalArgumentException.class, () -> new SizeConditioning(0, 64, 0, 0, 64, 64));
        assertThrows(IllegalArgumentException.class, () -> new SizeConditioning(64, 64, -1, 0, 64, 64));
        assertThrows(IllegalArgumentException.class, () -> VectorConditioning.of(new float[4], SizeConditioning.of(64, 64), 7));
    }
}
