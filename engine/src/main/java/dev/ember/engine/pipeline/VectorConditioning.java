package dev.ember.engine.pipeline;

import dev.ember.engine.SizeConditioning;

/**
 * SDXL's vector conditioning y, the input of the UNet's {@code label_emb}: the pooled text vector, then
 * each of the six size numbers ({@link SizeConditioning#values()}) as a sinusoidal embedding of
 * {@code embedDim} values (sgm's {@code ConcatTimestepEmbedderND} over {@code Timestep}: half = dim / 2,
 * freq_i = exp(-ln(10000) i / half), [cos(v freq) | sin(v freq)]). SDXL base: 1280 + 6 x 256 = 2816.
 * Computed in double, rounded once.
 */
public final class VectorConditioning {
    private VectorConditioning() {}

    public static float[] of(float[] pooled, SizeConditioning sizes, int embedDim) {
        if (embedDim <= 0 || embedDim % 2 != 0) throw new IllegalArgumentException("size embedding width must be positive and even, got " + embedDim);
        double[] values = sizes.values();
        float[] y = new float[pooled.length + values.length * embedDim];
        System.arraycopy(pooled, 0, y, 0, pooled.length);
        int half = embedDim / 2;
        for (int k = 0; k < values.length; k++) {
            int base = pooled.length + k * embedDim;
            for (int i = 0; i < half; i++) {
                double arg = values[k] * Math.exp(-Math.log(10000) * i / half);
                y[base + i] = (float) Math.cos(arg);
                y[base + half + i] = (float) Math.sin(arg);
            }
        }
        return y;
    }
}
