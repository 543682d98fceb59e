package dev.ember.engine.model;

import dev.ember.engine.sampling.Prediction;
import java.util.Objects;

/**
 * What a checkpoint is: its generation, what its UNet predicts (and where that came from, since the
 * weights cannot tell eps from v) and the hyperparameters of its three networks.
 *
 * @param predictionSource where {@code prediction} came from: "override", "metadata", "scheduler config"
 *     or "default" (an assumption the user may need to override)
 */
public record ModelSpec(Architecture architecture, Prediction prediction, String predictionSource,
        TextEncoderConfig text, UnetConfig unet, VaeConfig vae) {
    public ModelSpec {
        Objects.requireNonNull(architecture, "architecture");
        Objects.requireNonNull(prediction, "prediction");
        Objects.requireNonNull(predictionSource, "predictionSource");
        Objects.requireNonNull(text, "text");
        Objects.requireNonNull(unet, "unet");
        Objects.requireNonNull(vae, "vae");
        if (unet.contextDim() != text.hiddenSize()) {
            throw new IllegalArgumentException("UNet context width " + unet.contextDim() + " differs from the text encoder's width " + text.hiddenSize());
        }
    }
}
