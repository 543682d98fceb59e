package dev.ember.engine.model;

/** The Stable Diffusion generations Ember runs. */
public enum Architecture {
    SD1("SD 1.x"),
    SD2("SD 2.x"),
    /** SDXL base and its fine-tunes: two text encoders, a vector-conditioned UNet (refiners are refused). */
    SDXL("SDXL");

    private final String label;

    Architecture(String label) {
        this.label = label;
    }

    public String label() {
        return label;
    }

    /** The text encoder every checkpoint of this generation uses, for hyperparameters shapes cannot tell. */
    public TextEncoderConfig defaultText() {
        return switch (this) {
            case SD1 -> TextEncoderConfig.SD1;
            case SD2 -> TextEncoderConfig.SD2;
            case SDXL -> TextEncoderConfig.SDXL_CLIP_L;
        };
    }

    /** SDXL's second text encoder (OpenCLIP bigG); null for the others. */
    public TextEncoderConfig defaultText2() {
        return this == SDXL ? TextEncoderConfig.SDXL_CLIP_G : null;
    }

    public UnetConfig defaultUnet() {
        return switch (this) {
            case SD1 -> UnetConfig.SD1;
            case SD2 -> UnetConfig.SD2;
            case SDXL -> UnetConfig.SDXL;
        };
    }

    /** The VAE's latent scale when a file does not say (SD 0.18215, SDXL 0.13025). */
    public double defaultVaeScale() {
        return this == SDXL ? VaeConfig.SDXL_SCALE_FACTOR : VaeConfig.SD.scaleFactor();
    }
}
