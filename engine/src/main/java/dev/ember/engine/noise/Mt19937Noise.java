package dev.ember.engine.noise;

/**
 * {@code torch.randn} on the CPU for float32 tensors, following ATen's {@code normal_kernel}:
 *
 * <ul>
 *   <li>16 or more elements ({@code normal_fill}): draw one float uniform per element, then turn
 *       each block of 16 into normals with Box-Muller pairing element {@code j} with {@code j + 8}
 *       (cosine into {@code j}, sine into {@code j + 8}); if the count is not a multiple of 16, draw 16
 *       fresh uniforms and redo the last 16 elements. All arithmetic is float32.</li>
 *   <li>fewer than 16 ({@code normal_distribution<double>}): two double uniforms per pair, the cosine
 *       value returned and the sine value cached in the generator for the next element, even across
 *       calls (torch keeps it in the generator too).</li>
 * </ul>
 *
 * ATen's AVX2 build of {@code normal_fill} uses SLEEF's float functions, which may differ from the
 * correctly rounded ones used here by one unit in the last place.
 */
public final class Mt19937Noise implements NoiseGenerator {

    private static final int BLOCK = 16;
    private static final int HALF = BLOCK / 2;

    private final Mt19937 engine;
    private boolean hasCachedNormal;
    private double cachedNormal;

    /** A generator seeded as {@code torch.manual_seed(seed)}. */
    public Mt19937Noise(long seed) {
        this(new Mt19937(seed));
    }

    /** A generator over an existing engine (which it then owns and advances). */
    public Mt19937Noise(Mt19937 engine) {
        this.engine = engine;
    }

    @Override
    public float[] next(int count) {
        if (count < 0) throw new IllegalArgumentException("count must not be negative");
        float[] out = new float[count];
        if (count >= BLOCK) {
            fillVectorised(out);
        } else {
            for (int i = 0; i < count; i++) out[i] = (float) nextDoubleNormal();
        }
        return out;
    }

    private void fillVectorised(float[] data) {
        int n = data.length;
        for (int i = 0; i < n; i++) data[i] = engine.nextFloat();
        for (int i = 0; i + BLOCK <= n; i += BLOCK) boxMuller16(data, i);
        if (n % BLOCK != 0) {
            int start = n - BLOCK;
            for (int i = 0; i < BLOCK; i++) data[start + i] = engine.nextFloat();
            boxMuller16(data, start);
        }
    }

    /** float32 throughout, as ATen's scalar {@code normal_fill_16}; each step rounds like a float op. */
    private static void boxMuller16(float[] data, int at) {
        for (int j = 0; j < HALF; j++) {
            float u1 = 1 - data[at + j]; // [0, 1) -> (0, 1] so log is finite
            float u2 = data[at + j + HALF];
            float radius = (float) StrictMath.sqrt(-2 * (float) StrictMath.log(u1));
            float theta = (float) (2.0f * Math.PI * u2);
            data[at + j] = radius * (float) StrictMath.cos(theta);
            data[at + j + HALF] = radius * (float) StrictMath.sin(theta);
        }
    }

    private double nextDoubleNormal() {
        if (hasCachedNormal) {
            hasCachedNormal = false;
            return cachedNormal;
        }
        double u1 = engine.nextDouble();
        double u2 = engine.nextDouble();
        double r = StrictMath.sqrt(-2.0 * StrictMath.log1p(-u2));
        double theta = 2.0 * Math.PI * u1;
        cachedNormal = r * StrictMath.sin(theta);
        hasCachedNormal = true;
        return r * StrictMath.cos(theta);
    }
}
