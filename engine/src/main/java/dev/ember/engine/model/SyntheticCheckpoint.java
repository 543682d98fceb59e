package dev.ember.engine.model;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes checkpoints with real names and shapes ({@link NetworkLayout}) and seeded values
 * ({@link SyntheticWeights}) in any format. Values are computed tensor by tensor while writing, so the
 * full-size presets need one tensor of memory, and the same seed always gives the same bytes.
 */
public final class SyntheticCheckpoint {
    private SyntheticCheckpoint() {}

    /** The canonical tensors of {@code spec}: UNet, VAE, text encoder, each in layout order; norms random. */
    public static List<TensorSource> tensors(ModelSpec spec, long seed, DType dtype) {
        return tensors(spec, seed, dtype, SyntheticWeights.Norms.RANDOM);
    }

    /** The canonical tensors of {@code spec}: UNet, VAE, text encoder, each in layout order. */
    public static List<TensorSource> tensors(ModelSpec spec, long seed, DType dtype, SyntheticWeights.Norms norms) {
        List<TensorSource> out = new ArrayList<>();
        for (Component c : List.of(Component.UNET, Component.VAE, Component.TEXT_ENCODER, Component.TEXT_ENCODER_2)) {
            for (TensorSpec s : c.layout(spec)) out.add(TensorSource.synthetic(s, seed, dtype, norms));
        }
        return out;
    }

    /**
     * Writes a preset, norms random. Single files get the text names real checkpoints have: OpenCLIP's for
     * SD 2.x, sgm's conditioner names for SDXL (CLIP ViT-L in Hugging Face names, bigG in OpenCLIP names).
     */
    public static void write(ModelPreset preset, Path out, ModelFormat format, DType dtype, long seed) {
        write(preset, out, format, dtype, seed, SyntheticWeights.Norms.RANDOM);
    }

    /** Writes a preset. SD 2.x single files get OpenCLIP text names, as real SD 2.x checkpoints have. */
    public static void write(ModelPreset preset, Path out, ModelFormat format, DType dtype, long seed, SyntheticWeights.Norms norms) {
        write(preset.spec(), preset.label(), out, format, dtype, seed, norms);
    }

    public static void write(ModelSpec spec, String presetName, Path out, ModelFormat format, DType dtype, long seed) {
        write(spec, presetName, out, format, dtype, seed, SyntheticWeights.Norms.RANDOM);
    }

    public static void write(ModelSpec spec, String presetName, Path out, ModelFormat format, DType dtype, long seed,
                             SyntheticWeights.Norms norms) {
        List<TensorSource> tensors = tensors(spec, seed, dtype, norms);
        if (format != ModelFormat.DIFFUSERS && spec.architecture() == Architecture.SD2) tensors = withOpenClipText(tensors);
        if (format != ModelFormat.DIFFUSERS && spec.architecture() == Architecture.SDXL) tensors = CanonicalNames.toSdxlSingleFile(tensors);
        write(spec, presetName, out, format, tensors);
    }

    /** Writes given canonical tensors (single-file formats keep their names, so OpenCLIP-named ones stay so). */
    public static void write(ModelSpec spec, String presetName, Path out, ModelFormat format, List<TensorSource> tensors) {
        switch (format) {
            case SAFETENSORS -> SafetensorsWriter.write(out, ModelMetadata.describe(spec, presetName), tensors);
            case CKPT -> TorchCheckpointWriter.write(out, ModelMetadata.describe(spec, presetName), tensors);
            case GGUF -> GgufWriter.write(out, ModelMetadata.describe(spec, presetName), tensors);
            case DIFFUSERS -> DiffusersWriter.write(out, spec, canonicalText(tensors));
        }
    }

    /** Replaces the canonical text encoder tensors by SD 2.x's OpenCLIP ones (fused q/k/v). */
    public static List<TensorSource> withOpenClipText(List<TensorSource> tensors) {
        List<TensorSource> out = new ArrayList<>(), text = new ArrayList<>();
        for (TensorSource t : tensors) (t.name().startsWith(NetworkLayout.TEXT_PREFIX) ? text : out).add(t);
        out.addAll(CanonicalNames.toOpenClip(text));
        return out;
    }

    /** Diffusers folders always hold HF CLIP names: refuse OpenCLIP-named text tensors. */
    private static List<TensorSource> canonicalText(List<TensorSource> tensors) {
        if (tensors.stream().noneMatch(t -> t.name().startsWith(CanonicalNames.OPEN_CLIP_PREFIX)
                || t.name().startsWith(CanonicalNames.SDXL_OPEN_CLIP_PREFIX))) return tensors;
        throw new IllegalArgumentException("diffusers folders need canonical (HF CLIP) text names");
    }
}
