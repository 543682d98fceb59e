package dev.ember.engine.pipeline;

import dev.ember.engine.nn.Unet;
import dev.ember.engine.sampling.NetworkFunction;

/**
 * The UNet with classifier-free guidance, as one network function: the conditional and unconditional
 * passes run as one batch of two (one graph, weights read once), then
 * {@code out = uncond + scale * (cond - uncond)}. With scale 1 only the conditional pass runs.
 */
final class GuidedUnet implements NetworkFunction {
    private final Unet unet;
    private final float[] context;     // [cond, uncond] or [cond], each [tokens, hidden]
    private final int contextTokens;
    private final double scale;
    private final int height;
    private final int width;

    GuidedUnet(Unet unet, float[] context, int contextTokens, double scale, int height, int width) {
        this.unet = unet;
        this.context = context;
        this.contextTokens = contextTokens;
        this.scale = scale;
        this.height = height;
        this.width = width;
    }

    @Override
    public float[] apply(float[] scaledInput, double timestep) {
        if (scale == 1) {
            return unet.forward(scaledInput, 1, height, width, new float[] {(float) timestep}, context, contextTokens);
        }
        int n = scaledInput.length;
        float[] both = new float[2 * n];
        System.arraycopy(scaledInput, 0, both, 0, n);
        System.arraycopy(scaledInput, 0, both, n, n);
        float t = (float) timestep;
        float[] out = unet.forward(both, 2, height, width, new float[] {t, t}, context, contextTokens);
        float[] guided = new float[n];
        for (int i = 0; i < n; i++) {
            float cond = out[i], uncond = out[n + i];
            guided[i] = (float) (uncond + scale * (cond - uncond));
        }
        return guided;
    }
}
