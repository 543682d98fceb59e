package dev.ember.engine.pipeline;

import dev.ember.engine.GenerationRequest;
import dev.ember.engine.InitLatent;
import dev.ember.engine.Inpaint;
import dev.ember.engine.InpaintFill;
import dev.ember.engine.image.RgbImage;
import dev.ember.engine.sampling.StepBlend;
import java.util.function.Consumer;

/**
 * Inpainting's stage around the denoising loop (see {@link Inpaint}): before it, the mask at output and
 * latent size, the picture the init latent is encoded from ({@link InpaintFill}) and, for inpainting models
 * (9 UNet input channels), the extra input channels; during it, the start latent and the per-step
 * {@link MaskBlend}; after it, the original pixels pasted back. One per request, shared by its images.
 */
public final class Inpainting {
    /** UNet input channels of an inpainting model: latent (4) + mask (1) + masked-image latent (4). */
    public static final int MODEL_INPUT_CHANNELS = 9;

    private final InpaintMask mask;          // at the working size; null: an inpainting model run without a mask
    private final RgbImage original;         // the init image at the working size (only masked: its region scaled), or null
    private final RgbImage source;           // what the init latent is encoded from, or null
    private final float[] latentMask;        // [h * w], 1 = repaint, or null
    private final InpaintFill fill;
    private final double noiseMultiplier;
    private float[] conditioning;            // [1 + latent channels, h, w] for inpainting models, else null
    private RgbImage fullInit;               // only masked: the init image as given, the result's size
    private InpaintMask fullMask;            // only masked: the mask at that size
    private int[] region;                    // only masked: the region inpainted, {x1, y1, x2, y2}

    private Inpainting(InpaintMask mask, RgbImage original, RgbImage source, float[] latentMask, InpaintFill fill, double noiseMultiplier) {
        this.mask = mask;
        this.original = original;
        this.source = source;
        this.latentMask = latentMask;
        this.fill = fill;
        this.noiseMultiplier = noiseMultiplier;
    }

    /**
     * The stage for {@code request}, or null when there is nothing to do: no mask, and a model that takes no
     * extra channels. A mask that repaints everything (all white) is plain img2img: a warning says so, and only an
     * inpainting model still sees it.
     *
     * @param fitted the init image at the output size (null for txt2img)
     */
    public static Inpainting prepare(GenerationRequest request, RgbImage fitted, LatentCodec codec, int factor, boolean inpaintingModel,
                                     Consumer<String> warnings) {
        Inpaint settings = request.inpaint();
        Inpainting stage;
        if (settings == null) {
            if (!inpaintingModel) return null;
            stage = new Inpainting(null, fitted, fitted, null, InpaintFill.ORIGINAL, 1);
        } else {
            InpaintMask full = null;
            int[] region = null;
            InpaintMask m;
            if (settings.onlyMasked()) {
                // A1111's inpaint_full_res: the mask at the init image's size, the masked region scaled to the working size.
                RgbImage given = request.initImage();
                full = InpaintMask.of(settings, given.width(), given.height(), request.resize());
                region = full.cropRegion(settings.padding(), request.width(), request.height());
                m = full.cropped(region, request.width(), request.height());
                fitted = ImageTensors.fit(crop(given, region), request.width(), request.height(), dev.ember.engine.InitResize.STRETCH);
            } else {
                m = InpaintMask.of(settings, request.width(), request.height(), request.resize());
            }
            if (m.repaintsAll() && !settings.onlyMasked()) {
                warnings.accept("the mask repaints the whole picture (all white" + (settings.invert() ? " once inverted" : "")
                        + "): this is plain img2img");
                if (!inpaintingModel) return null;
            }
            RgbImage source = settings.fill() == InpaintFill.ORIGINAL ? fitted : MaskFill.fill(fitted, m);
            stage = new Inpainting(m, fitted, source, m.latent(factor), settings.fill(), settings.noiseMultiplier());
            stage.fullInit = full == null ? null : request.initImage();
            stage.fullMask = full;
            stage.region = region;
        }
        if (inpaintingModel) stage.conditioning = stage.modelInput(request, codec, factor);
        return stage;
    }

    /** The picture the init latent comes from: the init image, or with a fill mode the init image filled in. */
    public RgbImage source() {
        return source;
    }

    /** Whether there is a mask (false: an inpainting model's extra channels only). */
    public boolean masked() {
        return mask != null;
    }

    /** The start latent's clean part: the init latent, with the masked part noise or zero for the latent fill modes (A1111's). */
    float[] startLatent(float[] init, float[] noise) {
        if (mask == null || fill == InpaintFill.FILL || fill == InpaintFill.ORIGINAL) return init;
        float[] out = new float[init.length];
        int plane = latentMask.length;
        for (int i = 0; i < out.length; i++) {
            double m = latentMask[i % plane];
            double masked = fill == InpaintFill.LATENT_NOISE ? noise[i] : 0;
            out[i] = (float) (init[i] * (1 - m) + masked * m);
        }
        return out;
    }

    /** The noise the start latent gets: the image's noise times the initial noise multiplier. */
    float[] startNoise(float[] noise) {
        if (noiseMultiplier == 1) return noise;
        float[] out = new float[noise.length];
        for (int i = 0; i < out.length; i++) out[i] = (float) (noise[i] * noiseMultiplier);
        return out;
    }

    /** The per-step rule, or {@link StepBlend#NONE} without a mask. */
    StepBlend blend(float[] init, float[] noise) {
        return mask == null || init == null ? StepBlend.NONE : new MaskBlend(latentMask, init, noise);
    }

    /** The inpainting model's extra input channels, or null. */
    float[] conditioning() {
        return conditioning;
    }

    /** The decoded picture with the original pixels pasted back through the blurred mask. */
    public RgbImage finish(RgbImage decoded) {
        if (region != null) return fullMask.pasteInto(fullInit, decoded, region);
        return mask == null ? decoded : mask.pasteBack(original, decoded);
    }

    private static RgbImage crop(RgbImage image, int[] r) {
        int w = r[2] - r[0], h = r[3] - r[1];
        byte[] src = image.rgb(), out = new byte[w * h * 3];
        for (int y = 0; y < h; y++) System.arraycopy(src, ((y + r[1]) * image.width() + r[0]) * 3, out, y * w * 3, w * 3);
        return new RgbImage(w, h, out);
    }

    /**
     * As A1111's {@code inpainting_image_conditioning}: the mask rounded to 0/1 at pixel size, the init image
     * with its masked pixels set to 0 (grey) through the VAE encoder (the posterior's mean, scaled), and the mask
     * taken to latent size by nearest neighbour; [mask, masked-image latent]. Without a mask the whole picture is
     * masked (a grey image), as A1111 does for txt2img and unmasked img2img.
     */
    private float[] modelInput(GenerationRequest request, LatentCodec codec, int factor) {
        int w = request.width(), h = request.height(), plane = w * h;
        float[] pixels = original == null ? new float[3 * plane] : ImageTensors.toTensor(original);
        float[] hard = new float[plane];
        for (int p = 0; p < plane; p++) hard[p] = mask == null || mask.at(p) > 0.5f ? 1 : 0;
        for (int c = 0; c < 3; c++) for (int p = 0; p < plane; p++) pixels[c * plane + p] *= 1 - hard[p];
        float[] latent = codec.encode(pixels, h, w).latent(InitLatent.MEAN, null);
        int lh = h / factor, lw = w / factor, lplane = lh * lw;
        float[] out = new float[lplane + latent.length];
        for (int y = 0; y < lh; y++) {
            for (int x = 0; x < lw; x++) out[y * lw + x] = hard[(y * factor) * w + x * factor];
        }
        System.arraycopy(latent, 0, out, lplane, latent.length);
        return out;
    }
}
