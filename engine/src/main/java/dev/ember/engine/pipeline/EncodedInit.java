package dev.ember.engine.pipeline;

import dev.ember.engine.InitLatent;
import dev.ember.engine.noise.NoiseGenerator;

/**
 * img2img's init image after the VAE encoder: the posterior's mean and standard deviation per latent
 * element (LDM's {@code DiagonalGaussianDistribution}: log-variance clamped to [-30, 20], std =
 * exp(logvar / 2)), unscaled. Encoded once per request; each image takes its latent from it.
 */
public final class EncodedInit {
    private final float[] mean;
    private final float[] std;
    private final double scaleFactor;

    /**
     * @param moments     the encoder's output for one image: [2z, h, w], mean then log-variance
     * @param scaleFactor the VAE's latent scale (0.18215 for SD)
     */
    public EncodedInit(float[] moments, double scaleFactor) {
        if (moments.length % 2 != 0) throw new IllegalArgumentException("moments hold mean and log-variance: even length needed");
        int n = moments.length / 2;
        this.mean = new float[n];
        this.std = new float[n];
        for (int i = 0; i < n; i++) {
            mean[i] = moments[i];
            std[i] = (float) Math.exp(0.5 * Math.clamp(moments[n + i], -30.0, 20.0));
        }
        this.scaleFactor = scaleFactor;
    }

    /** Elements of the latent. */
    public int size() {
        return mean.length;
    }

    /**
     * The scaled latent sampling starts from: {@code scale * mean}, or for {@link InitLatent#SAMPLE}
     * {@code scale * (mean + std * z)} with {@code z} the next draw of {@code noise} (which this advances).
     */
    public float[] latent(InitLatent mode, NoiseGenerator noise) {
        float[] out = new float[mean.length];
        if (mode == InitLatent.SAMPLE) {
            float[] z = noise.next(mean.length);
            for (int i = 0; i < out.length; i++) out[i] = (float) ((mean[i] + (double) std[i] * z[i]) * scaleFactor);
        } else {
            for (int i = 0; i < out.length; i++) out[i] = (float) (mean[i] * scaleFactor);
        }
        return out;
    }
}
