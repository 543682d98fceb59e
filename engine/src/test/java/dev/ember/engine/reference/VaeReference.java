package dev.ember.engine.reference;

import dev.ember.engine.model.StateDict;

/**
 * LDM's {@code AutoencoderKL} in float64, written from the PyTorch definition
 * ({@code ldm/modules/diffusionmodules/model.py}: {@code Encoder}, {@code Decoder}, {@code ResnetBlock},
 * {@code AttnBlock}, {@code Downsample}, {@code Upsample}; {@code ldm/models/autoencoder.py}: the
 * {@code quant_conv} / {@code post_quant_conv} 1x1 convolutions), not from the ggml graph.
 *
 * <p>Every activation is NCHW, row-major. Normalize is GroupNorm(32, eps 1e-6, affine); the
 * nonlinearity is SiLU; dropout is the identity at inference. The structure comes from the raw LDM
 * tensors ({@link LdmTensors}): levels and blocks from the module lists present, channels from weight
 * shapes, downsamplers, upsamplers and shortcuts from the names present.
 */
public final class VaeReference {
    private static final double EPS = 1e-6;
    private static final int GROUPS = 32;
    private static final String P = "first_stage_model.";

    private final LdmTensors weights;

    public VaeReference(StateDict weights) {
        this.weights = new LdmTensors(weights, P);
    }

    /** A feature map: data NCHW and its dimensions. */
    private record Act(double[] x, int n, int c, int h, int w) {
        int hw() {
            return h * w;
        }
    }

    /** image [n, imageChannels, h, w] -> moments [n, 2z, h/f, w/f] (mean then logvar, after quant_conv). */
    public double[] encode(float[] image, int n, int h, int w) {
        double[] x = new double[image.length];
        for (int i = 0; i < x.length; i++) x[i] = image[i];
        Act a = new Act(x, n, weights.dim("encoder.conv_in.weight", 1), h, w);
        a = conv(a, "encoder.conv_in", 3, 1, 1);
        int levels = weights.count("encoder.down.");
        for (int level = 0; level < levels; level++) {
            String down = "encoder.down." + level + ".";
            int blocks = weights.count(down + "block.");
            for (int i = 0; i < blocks; i++) a = resnetBlock(a, down + "block." + i + ".");
            if (weights.has(down + "downsample.conv.weight")) {
                // Downsample(with_conv=True): pad (0, 1, 0, 1), then a 3x3 stride-2 convolution without padding.
                Act padded = new Act(Ops.padRightBottom(a.x, a.n, a.c, a.h, a.w, 1, 1), a.n, a.c, a.h + 1, a.w + 1);
                a = conv(padded, down + "downsample.conv", 3, 2, 0);
            }
        }
        a = resnetBlock(a, "encoder.mid.block_1.");
        a = attnBlock(a, "encoder.mid.attn_1.");
        a = resnetBlock(a, "encoder.mid.block_2.");
        a = silu(norm(a, "encoder.norm_out"));
        a = conv(a, "encoder.conv_out", 3, 1, 1);
        a = conv(a, "quant_conv", 1, 1, 0);
        return a.x;
    }

    /** latent [n, z, h, w] (already divided by the scale factor) -> image [n, imageChannels, h*f, w*f]. */
    public double[] decode(float[] latent, int n, int h, int w) {
        double[] x = new double[latent.length];
        for (int i = 0; i < x.length; i++) x[i] = latent[i];
        Act a = new Act(x, n, weights.dim("post_quant_conv.weight", 1), h, w);
        a = conv(a, "post_quant_conv", 1, 1, 0);
        a = conv(a, "decoder.conv_in", 3, 1, 1);
        a = resnetBlock(a, "decoder.mid.block_1.");
        a = attnBlock(a, "decoder.mid.attn_1.");
        a = resnetBlock(a, "decoder.mid.block_2.");
        // LDM's Decoder runs its up list from the last index down to 0.
        for (int level = weights.count("decoder.up.") - 1; level >= 0; level--) {
            String up = "decoder.up." + level + ".";
            int blocks = weights.count(up + "block.");
            for (int i = 0; i < blocks; i++) a = resnetBlock(a, up + "block." + i + ".");
            if (weights.has(up + "upsample.conv.weight")) {
                // Upsample(with_conv=True): nearest 2x, then a 3x3 convolution with padding 1.
                Act upsampled = new Act(Ops.upsample2x(a.x, a.n, a.c, a.h, a.w), a.n, a.c, 2 * a.h, 2 * a.w);
                a = conv(upsampled, up + "upsample.conv", 3, 1, 1);
            }
        }
        a = silu(norm(a, "decoder.norm_out"));
        a = conv(a, "decoder.conv_out", 3, 1, 1);
        return a.x;
    }

    private Act resnetBlock(Act x, String p) {
        Act h = conv(silu(norm(x, p + "norm1")), p + "conv1", 3, 1, 1);
        h = conv(silu(norm(h, p + "norm2")), p + "conv2", 3, 1, 1);
        Act shortcut = weights.has(p + "nin_shortcut.weight") ? conv(x, p + "nin_shortcut", 1, 1, 0) : x;
        return new Act(Ops.add(shortcut.x, h.x), x.n, h.c, x.h, x.w);
    }

    /** Single-head self-attention over the h*w positions, scale c^-0.5, with a residual. */
    private Act attnBlock(Act x, String p) {
        Act h = norm(x, p + "norm");
        Act q = conv(h, p + "q", 1, 1, 0);
        Act k = conv(h, p + "k", 1, 1, 0);
        Act v = conv(h, p + "v", 1, 1, 0);
        int c = x.c, hw = x.hw();
        double[] o = new double[x.x.length];
        for (int b = 0; b < x.n; b++) {
            // [c, hw] per batch element -> [hw, c] rows for Ops.attention.
            double[] qt = tokens(q.x, b, c, hw), kt = tokens(k.x, b, c, hw), vt = tokens(v.x, b, c, hw);
            double[] att = Ops.attention(qt, kt, vt, hw, hw, 1, c, false);
            for (int t = 0; t < hw; t++)
                for (int ch = 0; ch < c; ch++) o[(b * c + ch) * hw + t] = att[t * c + ch];
        }
        Act out = conv(new Act(o, x.n, c, x.h, x.w), p + "proj_out", 1, 1, 0);
        return new Act(Ops.add(x.x, out.x), x.n, c, x.h, x.w);
    }

    private static double[] tokens(double[] x, int b, int c, int hw) {
        double[] t = new double[hw * c];
        for (int ch = 0; ch < c; ch++)
            for (int i = 0; i < hw; i++) t[i * c + ch] = x[(b * c + ch) * hw + i];
        return t;
    }

    private Act norm(Act x, String name) {
        double[] y = Ops.groupNorm(x.x, x.n, x.c, x.hw(), GROUPS, EPS, weights.load(name + ".weight"), weights.load(name + ".bias"));
        return new Act(y, x.n, x.c, x.h, x.w);
    }

    private static Act silu(Act x) {
        double[] y = new double[x.x.length];
        for (int i = 0; i < y.length; i++) y[i] = Ops.silu(x.x[i]);
        return new Act(y, x.n, x.c, x.h, x.w);
    }

    /** A k x k convolution whose output channels are its weight's first dimension. */
    private Act conv(Act x, String name, int k, int stride, int pad) {
        int out = weights.dim(name + ".weight", 0);
        if (weights.dim(name + ".weight", 1) != x.c) throw new IllegalStateException(name + " takes " + weights.dim(name + ".weight", 1) + " channels, gets " + x.c);
        double[] y = Ops.conv2d(x.x, x.n, x.c, x.h, x.w, weights.load(name + ".weight"), weights.load(name + ".bias"), out, k, stride, pad);
        int oh = (x.h + 2 * pad - k) / stride + 1, ow = (x.w + 2 * pad - k) / stride + 1;
        return new Act(y, x.n, out, oh, ow);
    }
}
