package dev.ember.engine.model;

/** The Stable Diffusion generations Ember runs. SDXL is recognised only to be refused. */
public enum Architecture {
    SD1("SD 1.x"),
    SD2("SD 2.x");

    private final String label;

    Architecture(String label) {
        this.label = label;
    }

    public String label() {
        return label;
    }

    /** The text encoder every checkpoint of this generation uses, for hyperparameters shapes cannot tell. */
    public TextEncoderConfig defaultText() {
        return this == SD1 ? TextEncoderConfig.SD1 : TextEncoderConfig.SD2;
    }

    public UnetConfig defaultUnet() {
        return this == SD1 ? UnetConfig.SD1 : UnetConfig.SD2;
    }
}
