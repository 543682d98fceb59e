package dev.ember.engine.model;

import java.util.List;

/**
 * The networks of a checkpoint, with the canonical prefix under which each one's tensors live. The
 * second text encoder exists only in SDXL models (its layout is empty for the others).
 */
public enum Component {
    UNET("UNet", NetworkLayout.UNET_PREFIX),
    VAE("VAE", NetworkLayout.VAE_PREFIX),
    TEXT_ENCODER("text encoder", NetworkLayout.TEXT_ROOT),
    TEXT_ENCODER_2("text encoder 2", NetworkLayout.TEXT2_ROOT);

    private final String label;
    private final String prefix;

    Component(String label, String prefix) {
        this.label = label;
        this.prefix = prefix;
    }

    public String label() {
        return label;
    }

    public String prefix() {
        return prefix;
    }

    /** The tensors this component needs under {@code spec}'s configs. */
    public List<TensorSpec> layout(ModelSpec spec) {
        return switch (this) {
            case UNET -> NetworkLayout.unet(spec.unet());
            case VAE -> NetworkLayout.vae(spec.vae());
            case TEXT_ENCODER -> NetworkLayout.textEncoder(spec.text());
            case TEXT_ENCODER_2 -> spec.text2() == null ? List.of() : NetworkLayout.textEncoder2(spec.text2());
        };
    }
}
