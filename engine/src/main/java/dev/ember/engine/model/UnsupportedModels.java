package dev.ember.engine.model;

import dev.ember.engine.UnsupportedModelException;
import java.nio.file.Path;
import java.util.Collection;
import java.util.List;

/**
 * Model families Ember recognises only to refuse them by name, from tell-tale tensor names (single
 * files) or a diffusers pipeline's class name: a clear "this is an SD3 model" beats a list of missing
 * UNet tensors.
 */
final class UnsupportedModels {
    /** A family, the tensor-name fragments that identify it, and what to say. */
    private record Family(String name, String why, List<String> fragments) {}

    private static final List<Family> FAMILIES = List.of(
            new Family("Stable Diffusion 3", "an MMDiT transformer with joint blocks and a T5 text encoder",
                    List.of("joint_blocks.", "text_encoders.t5xxl.", "context_embedder.")),
            new Family("Flux", "a transformer with double and single stream blocks",
                    List.of("double_blocks.", "single_blocks.", "single_transformer_blocks.")),
            new Family("a video model (Stable Video Diffusion, AnimateDiff or similar)", "temporal layers",
                    List.of("time_stack.", "time_mixer.", "motion_modules.", "temporal_transformer.", "temopral_conv.")));

    private UnsupportedModels() {}

    /** Throws when {@code names} (raw or canonical tensor names) belong to a family Ember cannot run. */
    static void refuse(Path path, Collection<String> names) {
        for (Family f : FAMILIES) {
            for (String name : names) {
                for (String fragment : f.fragments()) {
                    if (name.startsWith(fragment) || name.contains("." + fragment)) {
                        throw new UnsupportedModelException(path + ": " + f.name() + " checkpoint (" + f.why() + ", e.g. " + name
                                + "); Ember runs Stable Diffusion 1.x, 2.x and SDXL");
                    }
                }
            }
        }
    }

    /**
     * Throws for a diffusers pipeline class Ember cannot run ({@code model_index.json}'s {@code _class_name}),
     * naming it; returns normally for the Stable Diffusion and SDXL pipelines and for unknown names.
     */
    static void refusePipeline(Path dir, String className) {
        if (className == null) return;
        String family = null;
        if (className.startsWith("StableDiffusion3")) family = "Stable Diffusion 3";
        else if (className.startsWith("Flux")) family = "Flux";
        else if (className.contains("Video") || className.startsWith("AnimateDiff") || className.startsWith("I2VGen")) family = "a video model";
        if (family != null) {
            throw new UnsupportedModelException(dir + ": " + family + " (diffusers pipeline " + className
                    + "); Ember runs Stable Diffusion 1.x, 2.x and SDXL");
        }
    }
}
