package dev.ember.engine.nn;

/**
 * What EMBER_WEIGHT_Q8_0 stores, computed in plain Java from the definition in native/src/quantize.h:
 * per block of 32 weights one f16 scale d and int8 values q (weight = q * d), the scale searched over
 * d = max|x| / c for c = 124, 124.25, ..., 128 (rounded to f16 as stored), q = rint(x / d) clamped to
 * [-128, 127], least squared error kept (first on a tie). ggml's reference rounding is the c = 127
 * candidate alone ({@link #standardRoundTrip}).
 */
final class Q8Rounding {
    static final int BLOCK = 32;

    private Q8Rounding() {
    }

    /** The weights as the device reads them back: q * d per element. */
    static float[] roundTrip(float[] x) {
        if (x.length % BLOCK != 0) throw new IllegalArgumentException("length " + x.length + " is not a multiple of 32");
        float[] y = new float[x.length];
        for (int b = 0; b < x.length; b += BLOCK) {
            float amax = amax(x, b);
            float bestScale = 0;
            double bestError = Double.POSITIVE_INFINITY;
            for (int k = 0; k <= 16; k++) {
                float d = toF16(amax / (124.0f + 0.25f * k));
                double error = 0;
                for (int j = 0; j < BLOCK; j++) {
                    float e = x[b + j] - quantised(x[b + j], d) * d;
                    error += (double) e * e;
                }
                if (error < bestError) {
                    bestError = error;
                    bestScale = d;
                }
            }
            for (int j = 0; j < BLOCK; j++) y[b + j] = quantised(x[b + j], bestScale) * bestScale;
        }
        return y;
    }

    /** ggml's quantize_row_q8_0_ref then dequantize_row_q8_0: d = amax/127 stored as f16, q = roundf(x/d). */
    static float[] standardRoundTrip(float[] x) {
        float[] y = new float[x.length];
        for (int b = 0; b < x.length; b += BLOCK) {
            float d = amax(x, b) / 127;
            float id = d != 0 ? 1.0f / d : 0.0f;
            float dStored = toF16(d);
            for (int j = 0; j < BLOCK; j++) {
                float x0 = x[b + j] * id;
                double q = Math.copySign(Math.floor(Math.abs((double) x0) + 0.5), x0);  // roundf: halves away from zero
                y[b + j] = (float) q * dStored;
            }
        }
        return y;
    }

    private static float quantised(float x, float d) {
        float inverse = d != 0 ? 1.0f / d : 0.0f;
        return (float) Math.max(-128, Math.min(127, Math.rint(x * inverse)));
    }

    private static float amax(float[] x, int from) {
        float amax = 0;
        for (int j = 0; j < BLOCK; j++) amax = Math.max(amax, Math.abs(x[from + j]));
        return amax;
    }

    private static float toF16(float v) {
        return Float.float16ToFloat(Float.floatToFloat16(v));
    }
}
