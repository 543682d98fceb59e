package dev.ember.engine.sampling;

import dev.ember.engine.noise.NoiseSource;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class KDiffusionTest {

    private static final DiffusionSchedule SD = DiffusionSchedule.stableDiffusion();
    private static final GaussianProblem DATA = new GaussianProblem(-0.3, 1.2);

    /** An ideal network for the Gaussian data, undoing c_in and reading sigma back from the timestep. */
    private static NetworkFunction idealNetwork(Prediction prediction, double[] seenT) {
        return (scaled, t) -> {
            seenT[0] = t;
            double sigma = SD.tToSigma(t);
            double cIn = Prediction.cIn(sigma);
            float[] x = new float[scaled.length];
            for (int i = 0; i < x.length; i++) x[i] = (float) (scaled[i] / cIn);
            float[] x0 = DATA.denoiser().denoise(x, sigma);
            float[] out = new float[x.length];
            double s2 = sigma * sigma + 1;
            for (int i = 0; i < x.length; i++) {
                out[i] = switch (prediction) {
                    case EPSILON -> (float) ((x[i] - x0[i]) / sigma);
                    // x0 = c_skip x + c_out v  =>  v = (x0 - c_skip x) / c_out
                    case V_PREDICTION -> (float) ((x0[i] - x[i] / s2) / (-sigma / Math.sqrt(s2)));
                };
            }
            return out;
        };
    }

    @Test
    void wrappersRecoverTheDenoisedEstimate() {
        float[] z = NoiseSource.PHILOX.randn(9, 64);
        for (Prediction p : Prediction.values()) {
            for (double sigma : new double[] {14.6, 3.0, 0.5, 0.03}) {
                double[] seenT = new double[1];
                Denoiser d = KDiffusion.denoiser(idealNetwork(p, seenT), p, SD);
                float[] x = DATA.start(z, sigma);
                float[] got = d.denoise(x, sigma);
                float[] want = DATA.denoiser().denoise(x, sigma);
                for (int i = 0; i < x.length; i++) assertEquals(want[i], got[i], 2e-4 * Math.max(1, sigma), p + " sigma " + sigma);
                assertEquals(SD.sigmaToT(sigma), seenT[0], 1e-12);
            }
        }
    }

    @Test
    void conversionFormulas() {
        float[] x = {2f};
        float[] out = {0.5f};
        double sigma = 2;
        assertEquals(2 - 2 * 0.5, Prediction.EPSILON.toDenoised(x, out, sigma)[0], 1e-6);
        // c_skip = 1/5, c_out = -2/sqrt(5)
        assertEquals(2 / 5.0 - 2 / Math.sqrt(5) * 0.5, Prediction.V_PREDICTION.toDenoised(x, out, sigma)[0], 1e-6);
        assertEquals(1 / Math.sqrt(5), Prediction.cIn(sigma), 1e-15);
        assertEquals(Prediction.V_PREDICTION, Prediction.parse("v"));
        assertEquals(Prediction.EPSILON, Prediction.parse("EPS"));
        assertThrows(IllegalArgumentException.class, () -> Prediction.parse("sample"));
        assertThrows(IllegalArgumentException.class, () -> Prediction.EPSILON.toDenoised(x, new float[2], 1));
    }
}
