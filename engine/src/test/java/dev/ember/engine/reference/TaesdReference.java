package dev.ember.engine.reference;

import dev.ember.engine.model.StateDict;
import dev.ember.engine.model.TaesdConfig;

/**
 * TAESD in float64, written from madebyollin's {@code taesd.py} ({@code Encoder}, {@code Decoder},
 * {@code Block}, {@code Clamp}) with diffusers {@code AutoencoderTiny}'s layer numbers, not from the ggml
 * graph. Block(n, n): {@code ReLU(conv(ReLU(conv(ReLU(conv(x))))) + x)}; every conv 3x3 with padding 1;
 * the decoder starts with {@code tanh(x / 3) * 3} and upsamples by nearest-neighbour 2x.
 */
public final class TaesdReference {
    private final TaesdConfig config;
    private final StateDict weights;

    public TaesdReference(TaesdConfig config, StateDict weights) {
        this.config = config;
        this.weights = weights;
    }

    private record Act(double[] x, int n, int c, int h, int w) {}

    /** latent [n, z, h, w] -> image [n, 3, 8h, 8w], the decoder's raw output (~[0, 1]). */
    public double[] decode(float[] latent, int n, int h, int w) {
        double[] x = new double[latent.length];
        for (int i = 0; i < x.length; i++) x[i] = Math.tanh(latent[i] / 3.0) * 3.0;
        Act a = new Act(x, n, config.latentChannels(), h, w);
        a = relu(conv(a, "decoder.layers.0", 1));
        for (int level = 0; level < 3; level++) {
            int first = 2 + 5 * level;
            for (int b = 0; b < 3; b++) a = block(a, "decoder.layers." + (first + b));
            a = new Act(Ops.upsample2x(a.x, a.n, a.c, a.h, a.w), a.n, a.c, 2 * a.h, 2 * a.w);
            a = conv(a, "decoder.layers." + (first + 4), 1);
        }
        a = block(a, "decoder.layers.17");
        return conv(a, "decoder.layers.18", 1).x;
    }

    /** image [n, 3, h, w] in [0, 1] -> latent [n, z, h/8, w/8]. */
    public double[] encode(float[] image, int n, int h, int w) {
        double[] x = new double[image.length];
        for (int i = 0; i < x.length; i++) x[i] = image[i];
        Act a = new Act(x, n, config.imageChannels(), h, w);
        a = block(conv(a, "encoder.layers.0", 1), "encoder.layers.1");
        for (int level = 0; level < 3; level++) {
            int first = 2 + 4 * level;
            a = conv(a, "encoder.layers." + first, 2);
            for (int b = 1; b <= 3; b++) a = block(a, "encoder.layers." + (first + b));
        }
        return conv(a, "encoder.layers.14", 1).x;
    }

    private Act block(Act x, String name) {
        Act h = relu(conv(x, name + ".conv.0", 1));
        h = relu(conv(h, name + ".conv.2", 1));
        h = conv(h, name + ".conv.4", 1);
        return relu(new Act(Ops.add(h.x, x.x), x.n, x.c, x.h, x.w));
    }

    private Act conv(Act a, String name, int stride) {
        double[] w = Ops.load(weights, name + ".weight");
        double[] b = weights.contains(name + ".bias") ? Ops.load(weights, name + ".bias") : null;
        int oc = (int) weights.get(name + ".weight").dim(0);
        double[] y = Ops.conv2d(a.x, a.n, a.c, a.h, a.w, w, b, oc, 3, stride, 1);
        return new Act(y, a.n, oc, (a.h + 2 - 3) / stride + 1, (a.w + 2 - 3) / stride + 1);
    }

    private static Act relu(Act a) {
        double[] y = new double[a.x.length];
        for (int i = 0; i < y.length; i++) y[i] = Math.max(0, a.x[i]);
        return new Act(y, a.n, a.c, a.h, a.w);
    }
}
