package dev.ember.engine.pipeline;

import dev.ember.engine.AddOns;
import dev.ember.engine.EmberException;
import dev.ember.engine.image.RgbImage;
import dev.ember.engine.model.TaesdConfig;
import dev.ember.engine.model.VaeConfig;
import dev.ember.engine.nn.Taesd;
import dev.ember.engine.nn.Vae;

/**
 * Latents to pictures and back, with the network and tiling the model's {@link AddOns} choose: the VAE (whose
 * latents are divided by its scale factor first) or TAESD (which takes the UNet's latents as they are and makes
 * [0, 1] images), whole or tile by tile ({@link VaeTiles}). Tiling is chosen per call: always ({@code ON}), never
 * ({@code OFF}), or ({@code AUTO}) when the estimated compute buffer of the untiled call would pass
 * {@link #AUTO_LIMIT_BYTES}. Tiles are {@code tileSize} pixels a side and overlap by a quarter of that. VAE tiles
 * share one set of GroupNorm statistics, recorded on the whole picture scaled down to fit one tile
 * ({@link Vae#recordGroupStats}), so that they normalise alike instead of each by its own content; TAESD has no
 * normalisation and a bounded reach, so its tiles need nothing shared.
 */
public final class LatentCodec {
    /** AUTO tiles a call whose untiled compute buffer would pass this: 512 x 768 stays whole, 768 x 768 is tiled. */
    public static final long AUTO_LIMIT_BYTES = 3L << 29;
    /**
     * Compute memory of a VAE call per image pixel and base channel: 0.98 GiB at 512 x 512 and 0.25 GiB at 256 x 256
     * for SD's VAE (128 base channels, f16 kernels; docs/performance.md), i.e. 31-32 bytes; f32 kernels make
     * f32 im2col bands, about half as much again.
     */
    static final double VAE_BYTES_PER_PIXEL_CHANNEL = 32;
    /** TAESD's per pixel and feature channel: full-resolution 64-channel activations plus an unbanded f16 im2col. */
    static final double TAESD_BYTES_PER_PIXEL_CHANNEL = 36;

    private final VaeConfig vae;
    private final OnDemand<Vae> decoder;
    private final OnDemand<Vae> encoder;
    private final Taesd taesd;
    private final AddOns addOns;
    private final boolean f32Vae;

    /**
     * @param taesd  TAESD, or null without one
     * @param f32Vae whether the VAE's kernels are f32 (its estimate is then larger)
     */
    public LatentCodec(VaeConfig vae, OnDemand<Vae> decoder, OnDemand<Vae> encoder, Taesd taesd, AddOns addOns, boolean f32Vae) {
        this.vae = vae;
        this.decoder = decoder;
        this.encoder = encoder;
        this.taesd = taesd;
        this.addOns = addOns;
        this.f32Vae = f32Vae;
    }

    /** How a decode or encode of a given size runs. */
    public record Plan(AddOns.VaeDecoder network, boolean tiled, int tiles, long estimatedUntiledBytes) {}

    /** The plan for an image of {@code height} x {@code width} pixels through {@code network}. */
    public Plan plan(AddOns.VaeDecoder network, int height, int width) {
        long pixels = (long) height * width;
        long estimate = network == AddOns.VaeDecoder.TAESD
                ? (long) (TAESD_BYTES_PER_PIXEL_CHANNEL * taesdConfig().channels() * pixels)
                : (long) (VAE_BYTES_PER_PIXEL_CHANNEL * (f32Vae ? 1.5 : 1) * vae.baseChannels() * pixels);
        int tile = addOns.tileSize();
        boolean larger = height > tile || width > tile;
        boolean tiled = larger && switch (addOns.tiling()) {
            case ON -> true;
            case OFF -> false;
            case AUTO -> estimate > AUTO_LIMIT_BYTES;
        };
        return new Plan(network, tiled, tiled ? VaeTiles.count(height, width, tile, tile / 4, 1) : 1, estimate);
    }

    /** The final picture of a UNet-space latent [z, h, w], through the decoder the add-ons choose. */
    public RgbImage decode(float[] latent, int latentHeight, int latentWidth) {
        return decode(latent, latentHeight, latentWidth, addOns.decoder());
    }

    /** As {@link #decode(float[], int, int)} through {@code network}. */
    public RgbImage decode(float[] latent, int latentHeight, int latentWidth, AddOns.VaeDecoder network) {
        if (network == AddOns.VaeDecoder.TAESD) {
            if (taesd == null) throw new IllegalStateException("no TAESD loaded (AddOns.taesd)");
            int f = TaesdConfig.DOWNSCALE;
            Plan plan = plan(network, latentHeight * f, latentWidth * f);
            float[] image = plan.tiled()
                    ? VaeTiles.run(latent, taesdConfig().latentChannels(), latentHeight, latentWidth, 3, f, 1, addOns.tileSize() / f,
                            addOns.tileSize() / f / 4, (t, h, w) -> taesd.decode(t, 1, h, w))
                    : taesd.decode(latent, 1, latentHeight, latentWidth);
            for (int i = 0; i < image.length; i++) image[i] = 2 * image[i] - 1; // [0, 1] -> the [-1, 1] of VAE images
            requireFinite(image, "TAESD's output", latent);
            return ImageTensors.fromTensor(image, latentWidth * f, latentHeight * f);
        }
        int f = vae.downscale();
        float[] unscaled = new float[latent.length];
        for (int i = 0; i < latent.length; i++) unscaled[i] = (float) (latent[i] / vae.scaleFactor());
        Plan plan = plan(network, latentHeight * f, latentWidth * f);
        float[] image;
        try (OnDemand.Lease<Vae> lease = decoder.acquire()) {
            Vae v = lease.get();
            if (plan.tiled()) {
                int tile = addOns.tileSize() / f;
                float[] stats = proxyStats(v, false, unscaled, vae.latentChannels(), latentHeight, latentWidth, tile, 1);
                image = VaeTiles.run(unscaled, vae.latentChannels(), latentHeight, latentWidth, vae.imageChannels(), f, 1, tile, tile / 4,
                        (t, h, w) -> v.decodeWithGroupStats(t, h, w, stats));
            } else {
                image = v.decode(unscaled, 1, latentHeight, latentWidth);
            }
        }
        requireFinite(image, "the VAE decoder's output", latent);
        return ImageTensors.fromTensor(image, latentWidth * f, latentHeight * f);
    }

    /** A picture through the VAE encoder (tiled as planned): its posterior, from which img2img takes its start latent. */
    public EncodedInit encode(RgbImage image) {
        return encode(ImageTensors.toTensor(image), image.height(), image.width());
    }

    /** As {@link #encode(RgbImage)}, for a [3, height, width] tensor in [-1, 1] (inpainting's masked image has 0 = grey). */
    public EncodedInit encode(float[] pixels, int height, int width) {
        int f = vae.downscale();
        Plan plan = plan(AddOns.VaeDecoder.VAE, height, width);
        float[] moments;
        try (OnDemand.Lease<Vae> lease = encoder.acquire()) {
            Vae v = lease.get();
            int tile = addOns.tileSize();
            if (plan.tiled()) {
                float[] stats = proxyStats(v, true, pixels, vae.imageChannels(), height, width, tile, f);
                moments = VaeTiles.run(pixels, vae.imageChannels(), height, width, 2 * vae.latentChannels(), 1, f, tile, tile / 4,
                        (t, h, w) -> v.encodeWithGroupStats(t, h, w, stats));
            } else {
                moments = v.encode(pixels, 1, height, width);
            }
        }
        return new EncodedInit(moments, vae.scaleFactor());
    }

    /**
     * Refuses to turn NaN or infinite values into a picture (they would become a black or garbage image
     * without a word): says how many there are and whether the latent was already broken.
     */
    static void requireFinite(float[] image, String what, float[] latent) {
        int bad = 0;
        for (float v : image) if (!Float.isFinite(v)) bad++;
        if (bad == 0) return;
        int badLatent = 0;
        for (float v : latent) if (!Float.isFinite(v)) badLatent++;
        String cause = badLatent > 0
                ? "the latent it decoded already had " + badLatent + " of " + latent.length + " values non-finite (the sampling diverged)"
                : "the latent was finite, so the VAE overflowed (an f16 VAE that needs f32, e.g. SDXL's without the fp16 fix)";
        throw new EmberException(what + " has " + bad + " non-finite values (NaN or infinity) of " + image.length + "; " + cause
                + "; no image was written");
    }

    /**
     * GroupNorm statistics of the whole input, recorded on a copy scaled down (box filter) until it fits one tile;
     * sides stay multiples of {@code multiple} (the encoder's input must be a multiple of the downscale factor).
     */
    static float[] proxyStats(Vae v, boolean encode, float[] input, int channels, int height, int width, int tile, int multiple) {
        int k = (int) Math.ceil((double) Math.max(height, width) / tile);
        int ph = Math.max(multiple, height / k / multiple * multiple), pw = Math.max(multiple, width / k / multiple * multiple);
        float[] proxy = k == 1 && ph == height && pw == width ? input : boxResize(input, channels, height, width, ph, pw);
        return v.recordGroupStats(encode, proxy, ph, pw);
    }

    /** [c, h, w] -> [c, oh, ow], each output pixel the mean of the input pixels whose centres fall in its area. */
    static float[] boxResize(float[] x, int channels, int h, int w, int oh, int ow) {
        float[] out = new float[channels * oh * ow];
        for (int y = 0; y < oh; y++) {
            int y0 = (int) ((long) y * h / oh), y1 = Math.max(y0 + 1, (int) ((long) (y + 1) * h / oh));
            for (int xx = 0; xx < ow; xx++) {
                int x0 = (int) ((long) xx * w / ow), x1 = Math.max(x0 + 1, (int) ((long) (xx + 1) * w / ow));
                for (int c = 0; c < channels; c++) {
                    double s = 0;
                    for (int i = y0; i < y1; i++) for (int j = x0; j < x1; j++) s += x[(c * h + i) * w + j];
                    out[(c * oh + y) * ow + xx] = (float) (s / ((y1 - y0) * (x1 - x0)));
                }
            }
        }
        return out;
    }

    /** Whether TAESD is loaded. */
    public boolean hasTaesd() {
        return taesd != null;
    }

    private TaesdConfig taesdConfig() {
        return taesd == null ? TaesdConfig.STANDARD : taesd.config();
    }
}
