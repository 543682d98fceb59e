package dev.ember.engine.model;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * The {@code ember.*} metadata keys: hyperparameters that tensor shapes cannot tell (heads, activation,
 * prediction type). Ember's writers store them in safetensors {@code __metadata__}; the diffusers reader
 * fills them from the folder's config files; the detector reads them before falling back to the
 * architecture's defaults.
 */
public final class ModelMetadata {
    public static final String ARCHITECTURE = "ember.architecture";
    public static final String PRESET = "ember.preset";
    public static final String PREDICTION = "ember.prediction";
    /** Where {@link #PREDICTION} came from when not from the file itself (e.g. "scheduler config"). */
    public static final String PREDICTION_SOURCE = "ember.prediction.source";
    public static final String TEXT_NUM_HEADS = "ember.text.num_heads";
    public static final String TEXT_ACTIVATION = "ember.text.activation";
    public static final String TEXT_CLIP_SKIP = "ember.text.clip_skip";
    /** The same three for SDXL's second text encoder (OpenCLIP bigG). */
    public static final String TEXT2_NUM_HEADS = "ember.text2.num_heads";
    public static final String TEXT2_ACTIVATION = "ember.text2.activation";
    public static final String TEXT2_CLIP_SKIP = "ember.text2.clip_skip";
    public static final String UNET_NUM_HEADS = "ember.unet.num_heads";
    public static final String UNET_HEAD_DIM = "ember.unet.head_dim";
    public static final String UNET_NORM_GROUPS = "ember.unet.norm_groups";
    public static final String VAE_NORM_GROUPS = "ember.vae.norm_groups";
    public static final String VAE_SCALE_FACTOR = "ember.vae.scale_factor";
    /** Stability's model spec key, found in some community safetensors ("epsilon" or "v"). */
    public static final String MODELSPEC_PREDICTION = "modelspec.prediction_type";

    private ModelMetadata() {}

    /** The keys that describe {@code spec} completely, as make-model writes them. */
    public static Map<String, String> describe(ModelSpec spec, String preset) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put(ARCHITECTURE, spec.architecture().name().toLowerCase(Locale.ROOT));
        if (preset != null) m.put(PRESET, preset);
        m.put(PREDICTION, spec.prediction().label());
        m.put(TEXT_NUM_HEADS, Integer.toString(spec.text().numHeads()));
        m.put(TEXT_ACTIVATION, activationName(spec.text().activation()));
        m.put(TEXT_CLIP_SKIP, Integer.toString(spec.text().defaultClipSkip()));
        if (spec.text2() != null) {
            m.put(TEXT2_NUM_HEADS, Integer.toString(spec.text2().numHeads()));
            m.put(TEXT2_ACTIVATION, activationName(spec.text2().activation()));
            m.put(TEXT2_CLIP_SKIP, Integer.toString(spec.text2().defaultClipSkip()));
        }
        if (spec.unet().numHeads() != 0) m.put(UNET_NUM_HEADS, Integer.toString(spec.unet().numHeads()));
        else m.put(UNET_HEAD_DIM, Integer.toString(spec.unet().headDim()));
        m.put(UNET_NORM_GROUPS, Integer.toString(spec.unet().normGroups()));
        m.put(VAE_NORM_GROUPS, Integer.toString(spec.vae().normGroups()));
        m.put(VAE_SCALE_FACTOR, Double.toString(spec.vae().scaleFactor()));
        return m;
    }

    public static String activationName(TextEncoderConfig.Activation a) {
        return a == TextEncoderConfig.Activation.QUICK_GELU ? "quick_gelu" : "gelu";
    }

    /** quick_gelu or gelu (Hugging Face's hidden_act values). */
    public static TextEncoderConfig.Activation parseActivation(String s) {
        return switch (s.trim().toLowerCase(Locale.ROOT)) {
            case "quick_gelu", "quickgelu" -> TextEncoderConfig.Activation.QUICK_GELU;
            case "gelu" -> TextEncoderConfig.Activation.GELU;
            default -> throw new IllegalArgumentException("unknown text activation '" + s + "' (expected quick_gelu or gelu)");
        };
    }
}
