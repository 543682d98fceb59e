package dev.ember.engine.model;

import dev.ember.engine.sampling.Prediction;
import java.util.Locale;

/** The synthetic checkpoints {@code ember make-model} writes: the real architectures, and a tiny one for tests. */
public enum ModelPreset {
    TINY("tiny", new ModelSpec(Architecture.SD1, Prediction.EPSILON, "metadata", TextEncoderConfig.TINY, UnetConfig.TINY, VaeConfig.TINY)),
    SD15("sd15", new ModelSpec(Architecture.SD1, Prediction.EPSILON, "metadata", TextEncoderConfig.SD1, UnetConfig.SD1, VaeConfig.SD)),
    /** The tiny preset as an inpainting model: 9 UNet input channels (latent, mask, masked-image latent). */
    TINY_INPAINT("tiny-inpaint", new ModelSpec(Architecture.SD1, Prediction.EPSILON, "metadata", TextEncoderConfig.TINY,
            UnetConfig.TINY.withInChannels(9), VaeConfig.TINY)),
    /** SD 1.5's inpainting model (sd-v1-5-inpainting): SD 1.5 with 9 UNet input channels. */
    SD15_INPAINT("sd15-inpaint", new ModelSpec(Architecture.SD1, Prediction.EPSILON, "metadata", TextEncoderConfig.SD1,
            UnetConfig.SD1.withInChannels(9), VaeConfig.SD)),
    /** SD 2.1 (768-v): v prediction, OpenCLIP text names in single files, as the released checkpoint has. */
    SD21("sd21", new ModelSpec(Architecture.SD2, Prediction.V_PREDICTION, "metadata", TextEncoderConfig.SD2, UnetConfig.SD2, VaeConfig.SD)),
    /** SDXL base 1.0's shapes: CLIP ViT-L + OpenCLIP bigG, the 2.6 B UNet, the SDXL VAE scale (full size, for benchmarks). */
    SDXL("sdxl", new ModelSpec(Architecture.SDXL, Prediction.EPSILON, "metadata", TextEncoderConfig.SDXL_CLIP_L, UnetConfig.SDXL,
            VaeConfig.SDXL, TextEncoderConfig.SDXL_CLIP_G)),
    /** SDXL's structure at toy widths, for tests. */
    SDXL_TINY("sdxl-tiny", new ModelSpec(Architecture.SDXL, Prediction.EPSILON, "metadata", TextEncoderConfig.TINY_XL_L, UnetConfig.TINY_XL,
            VaeConfig.TINY_XL, TextEncoderConfig.TINY_XL_G));

    private final String label;
    private final ModelSpec spec;

    ModelPreset(String label, ModelSpec spec) {
        this.label = label;
        this.spec = spec;
    }

    public String label() {
        return label;
    }

    public ModelSpec spec() {
        return spec;
    }

    public static ModelPreset parse(String s) {
        for (ModelPreset p : values()) if (p.label.equals(s.toLowerCase(Locale.ROOT))) return p;
        throw new IllegalArgumentException("unknown preset '" + s + "' (expected tiny, tiny-inpaint, sd15, sd15-inpaint, sd21, sdxl or sdxl-tiny)");
    }
}
