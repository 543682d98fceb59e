package dev.ember.engine.model;

/**
 * The work of one network call, in floating-point operations, computed from the configs: 2 x the
 * multiply-adds of convolutions, linear layers and the two attention products (Q K^T and A V).
 * Norms, activations, softmax, additions and resampling are excluded, as in the usual FLOP counts of
 * Stable Diffusion (and {@code shared/reference/README.md}): they are a few percent of the time and no
 * GEMM could run them.
 *
 * <p>Sizes are image pixels for the VAE's encoder and the decoder's output, latent pixels for the UNet.
 * Every method is exact integer arithmetic in {@code long}/{@code double}.
 */
public final class FlopCounter {
    private FlopCounter() {}

    private static double conv(long inCh, long outCh, long kernel, long outH, long outW) {
        return 2.0 * inCh * outCh * kernel * kernel * outH * outW;
    }

    private static double linear(long in, long out, long tokens) {
        return 2.0 * in * out * tokens;
    }

    /** Q K^T and A V over {@code width} = heads x head width channels. */
    private static double attention(long queries, long keys, long width) {
        return 2.0 * 2.0 * queries * keys * width;
    }

    // ---- text encoder ----------------------------------------------------------------------------------

    /**
     * One CLIP text encoder call over {@code batch} sequences of {@code tokens} tokens, all layers in the file,
     * plus the pooled projection of one token per sequence when the encoder has one (SDXL's bigG).
     */
    public static double textEncoder(TextEncoderConfig c, int batch, int tokens) {
        long d = c.hiddenSize(), t = tokens;
        double perLayer = linear(d, 3 * d, t) + attention(t, t, d) + linear(d, d, t)
                + linear(d, c.intermediateSize(), t) + linear(c.intermediateSize(), d, t);
        return batch * (perLayer * c.numLayers() + linear(d, c.projectionDim(), 1));
    }

    // ---- UNet --------------------------------------------------------------------------------------------

    /**
     * One UNet call on a {@code batch} of latents {@code latentH x latentW} with {@code contextTokens}
     * tokens of text context (77 for SD). A CFG step is batch 2.
     */
    public static double unet(UnetConfig c, int batch, int latentH, int latentW, int contextTokens) {
        long mc = c.modelChannels(), temb = c.timeEmbedDim();
        double f = linear(mc, temb, 1) + linear(temb, temb, 1);  // time embedding
        if (c.hasVectorConditioning()) f += linear(c.admInChannels(), temb, 1) + linear(temb, temb, 1);  // SDXL's label_emb
        long h = latentH, w = latentW, ch = mc;
        f += conv(c.inChannels(), mc, 3, h, w);
        java.util.ArrayDeque<Long> skips = new java.util.ArrayDeque<>();
        skips.push(mc);
        for (int level = 0; level < c.numLevels(); level++) {
            long out = c.channels(level);
            for (int i = 0; i < c.numResBlocks(); i++) {
                f += resBlock(ch, out, temb, h, w);
                ch = out;
                if (c.hasAttention(level)) f += transformer(c, ch, h * w, contextTokens, c.depthAt(level));
                skips.push(ch);
            }
            if (level != c.numLevels() - 1) {
                h = (h + 1) / 2;
                w = (w + 1) / 2;
                f += conv(ch, ch, 3, h, w);  // stride-2 downsample
                skips.push(ch);
            }
        }
        f += resBlock(ch, ch, temb, h, w) + transformer(c, ch, h * w, contextTokens, c.middleDepth()) + resBlock(ch, ch, temb, h, w);
        for (int level = c.numLevels() - 1; level >= 0; level--) {
            long out = c.channels(level);
            for (int i = 0; i <= c.numResBlocks(); i++) {
                f += resBlock(ch + skips.pop(), out, temb, h, w);
                ch = out;
                if (c.hasAttention(level)) f += transformer(c, ch, h * w, contextTokens, c.depthAt(level));
                if (level != 0 && i == c.numResBlocks()) {
                    h *= 2;
                    w *= 2;
                    f += conv(ch, ch, 3, h, w);
                }
            }
        }
        f += conv(ch, c.outChannels(), 3, h, w);
        return batch * f;
    }

    private static double resBlock(long in, long out, long temb, long h, long w) {
        double f = conv(in, out, 3, h, w) + linear(temb, out, 1) + conv(out, out, 3, h, w);
        if (in != out) f += conv(in, out, 1, h, w);
        return f;
    }

    private static double transformer(UnetConfig c, long ch, long tokens, long contextTokens, int depth) {
        long ctx = c.contextDim();
        double block = linear(ch, 3 * ch, tokens) + attention(tokens, tokens, ch) + linear(ch, ch, tokens)  // self-attention
                + linear(ch, ch, tokens) + linear(ctx, 2 * ch, contextTokens) + attention(tokens, contextTokens, ch)
                + linear(ch, ch, tokens)                                                                      // cross-attention
                + linear(ch, 8 * ch, tokens) + linear(4 * ch, ch, tokens);                                    // GEGLU MLP
        return 2 * linear(ch, ch, tokens) + depth * block;  // proj_in, proj_out
    }

    // ---- VAE ---------------------------------------------------------------------------------------------

    /** One VAE decode of a {@code batch} of latents to images of {@code imageH x imageW}. */
    public static double vaeDecoder(VaeConfig c, int batch, int imageH, int imageW) {
        int f = c.downscale();
        long h = imageH / f, w = imageW / f, z = c.latentChannels();
        long ch = c.channels(c.numLevels() - 1);
        double flops = conv(z, z, 1, h, w) + conv(z, ch, 3, h, w) + vaeMid(ch, h, w);
        for (int level = c.numLevels() - 1; level >= 0; level--) {
            long out = c.channels(level);
            for (int i = 0; i <= c.numResBlocks(); i++) {
                flops += vaeResnet(ch, out, h, w);
                ch = out;
            }
            if (level != 0) {
                h *= 2;
                w *= 2;
                flops += conv(ch, ch, 3, h, w);
            }
        }
        flops += conv(ch, c.imageChannels(), 3, h, w);
        return batch * flops;
    }

    /**
     * One TAESD decode of an {@code imageH x imageW} image (3x3 convolutions only; the ReLUs, adds and upsamples are
     * not counted): conv(4 -> C) and nine block convolutions at the latent's size, ten per level after each 2x
     * upsample (the upsample's conv and three blocks'), the last level's being one block and conv(C -> 3).
     */
    public static double taesdDecoder(int imageH, int imageW) {
        long c = TaesdConfig.STANDARD.channels(), h = imageH / TaesdConfig.DOWNSCALE, w = imageW / TaesdConfig.DOWNSCALE;
        double flops = conv(TaesdConfig.STANDARD.latentChannels(), c, 3, h, w) + 9 * conv(c, c, 3, h, w);
        for (int level = 0; level < 3; level++) {
            h *= 2;
            w *= 2;
            flops += (level < 2 ? 10 : 4) * conv(c, c, 3, h, w);
        }
        return flops + conv(c, TaesdConfig.STANDARD.imageChannels(), 3, h, w);
    }

    /** One VAE encode of a {@code batch} of images {@code imageH x imageW} to the moments. */
    public static double vaeEncoder(VaeConfig c, int batch, int imageH, int imageW) {
        long h = imageH, w = imageW, ch = c.baseChannels(), z = c.latentChannels();
        double flops = conv(c.imageChannels(), ch, 3, h, w);
        for (int level = 0; level < c.numLevels(); level++) {
            long out = c.channels(level);
            for (int i = 0; i < c.numResBlocks(); i++) {
                flops += vaeResnet(ch, out, h, w);
                ch = out;
            }
            if (level != c.numLevels() - 1) {
                h /= 2;  // pad (0, 1, 0, 1), 3x3 stride 2, no padding
                w /= 2;
                flops += conv(ch, ch, 3, h, w);
            }
        }
        flops += vaeMid(ch, h, w) + conv(ch, 2 * z, 3, h, w) + conv(2 * z, 2 * z, 1, h, w);
        return batch * flops;
    }

    private static double vaeResnet(long in, long out, long h, long w) {
        double f = conv(in, out, 3, h, w) + conv(out, out, 3, h, w);
        if (in != out) f += conv(in, out, 1, h, w);
        return f;
    }

    private static double vaeMid(long ch, long h, long w) {
        long t = h * w;
        return 2 * vaeResnet(ch, ch, h, w) + 4 * linear(ch, ch, t) + attention(t, t, ch);
    }
}
