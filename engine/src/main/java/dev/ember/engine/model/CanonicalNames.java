package dev.ember.engine.model;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Renames a single-file checkpoint's tensors into Ember's one namespace (see docs/design.md): LDM names
 * for the UNet and VAE, Hugging Face CLIP names for the text encoders. SD 2.x stores OpenCLIP's text
 * tower ({@code cond_stage_model.model.*}); its fused attention projection {@code in_proj_weight [3D, D]}
 * becomes q/k/v as three slices of the same memory. SDXL stores CLIP ViT-L under
 * {@code conditioner.embedders.0.transformer.*} (Hugging Face names: renamed to SD's text root) and
 * OpenCLIP bigG under {@code conditioner.embedders.1.model.*} (mapped like SD 2.x's, to
 * {@link NetworkLayout#TEXT2_ROOT}). Nothing is copied but bigG's small {@code text_projection}, which
 * OpenCLIP stores transposed ({@link Transposed}).
 */
public final class CanonicalNames {
    static final String OPEN_CLIP_PREFIX = "cond_stage_model.model.";
    /** Old transformers versions saved CLIPTextModel without the {@code text_model.} level. */
    static final String OLD_HF_PREFIX = "cond_stage_model.transformer.";
    /** SDXL single files: CLIP ViT-L (Hugging Face names) and OpenCLIP ViT-bigG (OpenCLIP names). */
    static final String SDXL_CLIP_L_PREFIX = "conditioner.embedders.0.transformer.";
    static final String SDXL_OPEN_CLIP_PREFIX = "conditioner.embedders.1.model.";
    private static final Pattern RESBLOCK = Pattern.compile("transformer\\.resblocks\\.(\\d+)\\.(.+)");

    private CanonicalNames() {}

    /** The renamed tensors, and the stored names that have no place in the namespace (reported as unused). */
    public record Result(Map<String, TensorData> tensors, List<String> unmapped) {
        public Result {
            tensors = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
            unmapped = List.copyOf(unmapped);
        }
    }

    /** Maps every tensor of {@code raw}; tensors already under canonical names pass through. */
    public static Result canonicalize(Map<String, TensorData> raw) {
        Map<String, TensorData> out = new LinkedHashMap<>();
        List<String> unmapped = new ArrayList<>();
        for (var e : raw.entrySet()) {
            String name = e.getKey();
            TensorData t = e.getValue();
            if (name.startsWith(OPEN_CLIP_PREFIX)) {
                if (!openClip(name.substring(OPEN_CLIP_PREFIX.length()), t, NetworkLayout.TEXT_ROOT, false, out)) unmapped.add(name);
            } else if (name.startsWith(SDXL_OPEN_CLIP_PREFIX)) {
                if (!openClip(name.substring(SDXL_OPEN_CLIP_PREFIX.length()), t, NetworkLayout.TEXT2_ROOT, true, out)) unmapped.add(name);
            } else if (name.startsWith(SDXL_CLIP_L_PREFIX)) {
                put(out, NetworkLayout.TEXT_ROOT + name.substring(SDXL_CLIP_L_PREFIX.length()), t);
            } else if (name.startsWith(OLD_HF_PREFIX) && !name.startsWith(NetworkLayout.TEXT_PREFIX)) {
                put(out, NetworkLayout.TEXT_PREFIX + name.substring(OLD_HF_PREFIX.length()), t);
            } else {
                put(out, name, t);
            }
        }
        return new Result(out, unmapped);
    }

    /**
     * The diffusers name of a canonical UNet tensor given without its prefix ({@code input_blocks.1.1.proj_in.weight}
     * -> {@code down_blocks.0.attentions.0.proj_in.weight}), for a UNet with {@code numResBlocks} res blocks per level.
     */
    public static String unetToDiffusers(String ldm, int numResBlocks) {
        return DiffusersNames.unetToDiffusers(ldm, numResBlocks);
    }

    /**
     * One OpenCLIP text tensor under {@code root}'s Hugging Face names; false when it has none there.
     * {@code projection}: keep {@code text_projection} (SDXL's pooled output), transposed to Hugging Face's orientation.
     */
    private static boolean openClip(String rest, TensorData t, String root, boolean projection, Map<String, TensorData> out) {
        String p = root + "text_model.";
        switch (rest) {
            case "text_projection" -> {
                if (!projection || t.rank() != 2) return false; // SD 2.x conditions on hidden states only
                String name = root + NetworkLayout.PROJECTION;
                put(out, name, Transposed.of(t, name));
            }
            case "token_embedding.weight" -> put(out, p + "embeddings.token_embedding.weight", t);
            case "positional_embedding" -> put(out, p + "embeddings.position_embedding.weight", t);
            case "ln_final.weight", "ln_final.bias" -> put(out, p + "final_layer_norm." + suffix(rest), t);
            default -> {
                Matcher m = RESBLOCK.matcher(rest);
                if (!m.matches()) return false; // logit_scale, attn_mask: not used by SD
                String layer = p + "encoder.layers." + m.group(1) + ".";
                String part = m.group(2);
                switch (part) {
                    case "ln_1.weight", "ln_1.bias" -> put(out, layer + "layer_norm1." + suffix(part), t);
                    case "ln_2.weight", "ln_2.bias" -> put(out, layer + "layer_norm2." + suffix(part), t);
                    case "mlp.c_fc.weight", "mlp.c_fc.bias" -> put(out, layer + "mlp.fc1." + suffix(part), t);
                    case "mlp.c_proj.weight", "mlp.c_proj.bias" -> put(out, layer + "mlp.fc2." + suffix(part), t);
                    case "attn.out_proj.weight", "attn.out_proj.bias" -> put(out, layer + "self_attn.out_proj." + suffix(part), t);
                    case "attn.in_proj_weight", "attn.in_proj_bias" -> {
                        // Thirds of a block-quantised tensor (gguf) must be whole blocks.
                        if (t.rank() < 1 || t.dim(0) % 3 != 0 || t.elementCount() / 3 % t.dtype().blockSize() != 0) return false;
                        long third = t.data().byteSize() / 3;
                        long[] shape = t.shape();
                        shape[0] /= 3;
                        String kind = part.endsWith("weight") ? "weight" : "bias";
                        String[] qkv = {"q_proj", "k_proj", "v_proj"}; // OpenCLIP's order inside the fused matrix
                        for (int i = 0; i < 3; i++) {
                            MemorySegment slice = t.data().asSlice(i * third, third);
                            String name = layer + "self_attn." + qkv[i] + "." + kind;
                            put(out, name, new TensorData(name, t.dtype(), shape, slice));
                        }
                    }
                    default -> {
                        return false;
                    }
                }
            }
        }
        return true;
    }

    private static String suffix(String name) {
        return name.substring(name.lastIndexOf('.') + 1);
    }

    private static void put(Map<String, TensorData> out, String name, TensorData t) {
        // A file holding both spellings of one tensor is corrupt; the first one wins and the second is not silently merged.
        if (out.putIfAbsent(name, t.renamed(name)) != null) {
            throw new IllegalArgumentException("tensor " + name + " appears twice under different stored names");
        }
    }

    /** The OpenCLIP names of SD 2.x checkpoints for a canonical text encoder layout (inverse of the mapping above). */
    public static List<TensorSource> toOpenClip(List<TensorSource> canonicalText) {
        return toOpenClip(canonicalText, NetworkLayout.TEXT_ROOT, OPEN_CLIP_PREFIX);
    }

    /**
     * The names SDXL single files use: CLIP ViT-L under {@code conditioner.embedders.0.transformer.},
     * bigG in OpenCLIP names under {@code conditioner.embedders.1.model.} (projection transposed). The
     * other tensors pass through.
     */
    public static List<TensorSource> toSdxlSingleFile(List<TensorSource> canonical) {
        List<TensorSource> out = new ArrayList<>(), bigG = new ArrayList<>();
        for (TensorSource t : canonical) {
            if (t.name().startsWith(NetworkLayout.TEXT2_ROOT)) bigG.add(t);
            else if (t.name().startsWith(NetworkLayout.TEXT_ROOT)) {
                out.add(t.as(SDXL_CLIP_L_PREFIX + t.name().substring(NetworkLayout.TEXT_ROOT.length()), t.shape()));
            } else out.add(t);
        }
        out.addAll(toOpenClip(bigG, NetworkLayout.TEXT2_ROOT, SDXL_OPEN_CLIP_PREFIX));
        return out;
    }

    private static List<TensorSource> toOpenClip(List<TensorSource> canonicalText, String root, String o) {
        Map<String, TensorSource> byName = new LinkedHashMap<>();
        canonicalText.forEach(t -> byName.put(t.name(), t));
        List<TensorSource> out = new ArrayList<>();
        String p = root + "text_model.";
        for (TensorSource t : canonicalText) {
            if (t.name().equals(root + NetworkLayout.PROJECTION)) {
                out.add(Transposed.of(t, o + "text_projection"));
                continue;
            }
            String rest = t.name().substring(p.length());
            if (rest.equals("embeddings.token_embedding.weight")) out.add(t.as(o + "token_embedding.weight", t.shape()));
            else if (rest.equals("embeddings.position_embedding.weight")) out.add(t.as(o + "positional_embedding", t.shape()));
            else if (rest.startsWith("final_layer_norm.")) out.add(t.as(o + "ln_final." + suffix(rest), t.shape()));
            else if (rest.startsWith("encoder.layers.")) {
                String[] parts = rest.split("\\.", 4); // encoder, layers, N, rest
                String layer = o + "transformer.resblocks." + parts[2] + ".";
                String part = parts[3];
                String kind = suffix(part);
                if (part.startsWith("self_attn.q_proj.")) {
                    TensorSource q = t, k = byName.get(p + "encoder.layers." + parts[2] + ".self_attn.k_proj." + kind),
                            v = byName.get(p + "encoder.layers." + parts[2] + ".self_attn.v_proj." + kind);
                    long[] shape = q.shape();
                    shape[0] *= 3;
                    long third = q.byteSize();
                    out.add(new TensorSource(layer + (kind.equals("weight") ? "attn.in_proj_weight" : "attn.in_proj_bias"), q.dtype(), shape, seg -> {
                        q.filler().accept(seg.asSlice(0, third));
                        k.filler().accept(seg.asSlice(third, third));
                        v.filler().accept(seg.asSlice(2 * third, third));
                    }));
                } else if (part.startsWith("self_attn.k_proj.") || part.startsWith("self_attn.v_proj.")) {
                    continue; // inside in_proj
                } else {
                    String mapped = switch (part.substring(0, part.lastIndexOf('.'))) {
                        case "layer_norm1" -> "ln_1";
                        case "layer_norm2" -> "ln_2";
                        case "mlp.fc1" -> "mlp.c_fc";
                        case "mlp.fc2" -> "mlp.c_proj";
                        case "self_attn.out_proj" -> "attn.out_proj";
                        default -> throw new IllegalArgumentException("no OpenCLIP name for " + t.name());
                    };
                    out.add(t.as(layer + mapped + "." + kind, t.shape()));
                }
            } else {
                throw new IllegalArgumentException("no OpenCLIP name for " + t.name());
            }
        }
        return out;
    }
}
