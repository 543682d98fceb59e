package dev.ember.engine.model;

import dev.ember.engine.sampling.Prediction;
import java.util.Objects;

/**
 * What a checkpoint is: its generation, what its UNet predicts (and where that came from, since the
 * weights cannot tell eps from v) and the hyperparameters of its networks.
 *
 * @param predictionSource where {@code prediction} came from: "override", "metadata", "scheduler config"
 *     or "default" (an assumption the user may need to override)
 * @param text2 SDXL's second text encoder (OpenCLIP bigG, with its pooled projection), or null: the UNet's
 *     context is then both encoders' hidden states side by side, and its vector conditioning starts with
 *     bigG's pooled output followed by six sinusoidal size embeddings ({@link #sizeEmbedDim()} wide each)
 */
public record ModelSpec(Architecture architecture, Prediction prediction, String predictionSource,
        TextEncoderConfig text, UnetConfig unet, VaeConfig vae, TextEncoderConfig text2) {
    /** The six numbers of SDXL's size conditioning: original (h, w), crop (top, left), target (h, w). */
    public static final int SIZE_CONDITIONING_VALUES = 6;

    public ModelSpec {
        Objects.requireNonNull(architecture, "architecture");
        Objects.requireNonNull(prediction, "prediction");
        Objects.requireNonNull(predictionSource, "predictionSource");
        Objects.requireNonNull(text, "text");
        Objects.requireNonNull(unet, "unet");
        Objects.requireNonNull(vae, "vae");
        int context = text.hiddenSize() + (text2 == null ? 0 : text2.hiddenSize());
        if (unet.contextDim() != context) {
            throw new IllegalArgumentException("UNet context width " + unet.contextDim() + " differs from the text encoders' width " + context);
        }
        if ((architecture == Architecture.SDXL) != (text2 != null)) {
            throw new IllegalArgumentException(architecture.label() + (text2 == null ? " needs" : " has no") + " a second text encoder");
        }
        if (text2 != null) {
            int sizes = unet.admInChannels() - text2.projectionDim();
            if (text2.projectionDim() <= 0 || sizes <= 0 || sizes % SIZE_CONDITIONING_VALUES != 0 || sizes / SIZE_CONDITIONING_VALUES % 2 != 0) {
                throw new IllegalArgumentException("UNet vector width " + unet.admInChannels() + " is not the pooled width " + text2.projectionDim()
                        + " plus six even-width size embeddings");
            }
        } else if (unet.hasVectorConditioning()) {
            throw new IllegalArgumentException("a UNet with vector conditioning needs SDXL's second text encoder");
        }
    }

    /** A model with one text encoder (SD 1.x / 2.x). */
    public ModelSpec(Architecture architecture, Prediction prediction, String predictionSource, TextEncoderConfig text, UnetConfig unet,
                     VaeConfig vae) {
        this(architecture, prediction, predictionSource, text, unet, vae, null);
    }

    /** Width of each of SDXL's sinusoidal size embeddings (256 for SDXL base); 0 without vector conditioning. */
    public int sizeEmbedDim() {
        return text2 == null ? 0 : (unet.admInChannels() - text2.projectionDim()) / SIZE_CONDITIONING_VALUES;
    }

    /**
     * The image side a model was trained for and generates by default: 1024 for SDXL, 768 for SD 2.x
     * v-prediction models (SD 2.x 768-v), 512 otherwise.
     */
    public int defaultImageSize() {
        return defaultImageSize(architecture, prediction);
    }

    /** {@link #defaultImageSize()} of a generation run with a given prediction type (an override may change it). */
    public static int defaultImageSize(Architecture architecture, Prediction prediction) {
        if (architecture == Architecture.SDXL) return 1024;
        if (architecture == Architecture.SD2 && prediction == Prediction.V_PREDICTION) return 768;
        return 512;
    }
}
