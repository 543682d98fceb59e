package dev.ember.engine.model;

import dev.ember.engine.sampling.Prediction;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ember.engine.ModelFileException;
import dev.ember.engine.UnsupportedModelException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads a diffusers folder ({@code model_index.json}, {@code unet/}, {@code vae/}, {@code text_encoder/},
 * SDXL's {@code text_encoder_2/}, {@code scheduler/}) into canonical LDM names. Each component's weights
 * come from its safetensors file (or a PyTorch {@code .bin}); the VAE's attention linears {@code [C, C]}
 * are seen as 1x1 convs {@code [C, C, 1, 1]} over the same bytes. Config values that shapes cannot tell
 * become {@code ember.*} metadata: heads, text activation, norm groups, VAE scale, prediction type.
 * Pipelines Ember cannot run (SD3, Flux, video, the SDXL refiner) are refused by name.
 */
public final class DiffusersReader {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern UNET_LEVEL_RESNET = Pattern.compile("down_blocks\\.0\\.resnets\\.(\\d+)\\..*");
    private static final Pattern UP_ATTENTION = Pattern.compile("up_blocks\\.(\\d+)\\.attentions\\..*");
    private static final Pattern VAE_LEVEL = Pattern.compile("encoder\\.down_blocks\\.(\\d+)\\..*");

    private DiffusersReader() {}

    public static RawCheckpoint open(Path dir) {
        if (!Files.isRegularFile(dir.resolve("model_index.json"))) {
            throw new ModelFileException(dir, "folder has no model_index.json: not a diffusers model");
        }
        refuseUnsupported(dir);
        Arena arena = Arena.ofShared();
        try {
            Map<String, String> meta = new HashMap<>();
            Map<String, TensorData> out = new LinkedHashMap<>();
            unet(dir, arena, out, meta);
            vae(dir, arena, out, meta);
            text(dir, "text_encoder", NetworkLayout.TEXT_ROOT, arena, out, meta,
                    ModelMetadata.TEXT_NUM_HEADS, ModelMetadata.TEXT_ACTIVATION);
            if (Files.isDirectory(dir.resolve("text_encoder_2"))) {
                text(dir, "text_encoder_2", NetworkLayout.TEXT2_ROOT, arena, out, meta,
                        ModelMetadata.TEXT2_NUM_HEADS, ModelMetadata.TEXT2_ACTIVATION);
            }
            JsonNode sched = config(dir.resolve("scheduler").resolve("scheduler_config.json"), false);
            if (sched != null && sched.hasNonNull("prediction_type")) {
                meta.put(ModelMetadata.PREDICTION, Prediction.parse(sched.get("prediction_type").asText()).label());
                meta.put(ModelMetadata.PREDICTION_SOURCE, "scheduler config");
            }
            return new RawCheckpoint(ModelFormat.DIFFUSERS, new StateDict(out, arena), meta);
        } catch (IllegalArgumentException e) {
            arena.close();
            throw new ModelFileException(dir, e.getMessage());
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /**
     * Refuses what Ember cannot run before reading any weights: pipelines of other families (named by
     * {@code _class_name}), transformer-only models, the SDXL refiner (bigG alone, aesthetic score) and
     * UNets with another kind of added embedding than SDXL's {@code text_time}.
     */
    private static void refuseUnsupported(Path dir) {
        JsonNode index = config(dir.resolve("model_index.json"), true);
        String className = index.path("_class_name").asText(null);
        UnsupportedModels.refusePipeline(dir, className);
        if (!Files.isDirectory(dir.resolve("unet")) && Files.isDirectory(dir.resolve("transformer"))) {
            throw new UnsupportedModelException(dir + ": a diffusion transformer model (" + (className == null ? "no unet/ folder" : className)
                    + "); Ember runs Stable Diffusion 1.x, 2.x and SDXL");
        }
        boolean refiner = index.path("requires_aesthetics_score").asBoolean(false)
                || Files.isDirectory(dir.resolve("text_encoder_2")) && !Files.isDirectory(dir.resolve("text_encoder"));
        if (refiner) {
            throw new UnsupportedModelException(dir + ": SDXL refiner (OpenCLIP bigG only, aesthetic-score conditioning); "
                    + "Ember runs SDXL base models and their fine-tunes, not the refiner");
        }
        JsonNode unet = config(dir.resolve("unet").resolve("config.json"), false);
        String added = unet == null ? null : unet.path("addition_embed_type").asText(null);
        if (added != null && !added.equals("text_time")) {
            throw new UnsupportedModelException(dir + ": UNet with addition_embed_type '" + added + "' (SDXL's is text_time); "
                    + "Ember runs Stable Diffusion 1.x, 2.x and SDXL");
        }
    }

    private static void unet(Path dir, Arena arena, Map<String, TensorData> out, Map<String, String> meta) {
        Path sub = dir.resolve("unet");
        Map<String, TensorData> raw = weights(sub, "diffusion_pytorch_model", arena);
        int n = indices(raw, UNET_LEVEL_RESNET).size();
        TreeSet<Integer> upAttention = indices(raw, UP_ATTENTION);
        for (var e : raw.entrySet()) {
            String ldm = DiffusersNames.unetToLdm(e.getKey(), n, upAttention::contains);
            put(out, ldm == null ? "unet." + e.getKey() : NetworkLayout.UNET_PREFIX + ldm, e.getValue());
        }
        JsonNode c = config(sub.resolve("config.json"), true);
        // diffusers' "attention_head_dim" holds SD 1.x's head COUNT (8); SD 2.x lists counts per level
        // (5, 10, 20, 20), i.e. a fixed head width of 64. A newer "num_attention_heads" wins when present.
        JsonNode heads = c.hasNonNull("num_attention_heads") ? c.get("num_attention_heads") : c.get("attention_head_dim");
        JsonNode channels = c.get("block_out_channels");
        if (heads != null && heads.isInt()) {
            meta.put(ModelMetadata.UNET_NUM_HEADS, heads.asText());
        } else if (heads != null && heads.isArray() && channels != null && channels.isArray() && channels.size() == heads.size()) {
            TreeSet<Integer> counts = new TreeSet<>(), widths = new TreeSet<>();
            for (int i = 0; i < heads.size(); i++) {
                counts.add(heads.get(i).asInt());
                if (heads.get(i).asInt() > 0) widths.add(channels.get(i).asInt() / heads.get(i).asInt());
            }
            if (counts.size() == 1) meta.put(ModelMetadata.UNET_NUM_HEADS, counts.first().toString());
            else if (widths.size() == 1) meta.put(ModelMetadata.UNET_HEAD_DIM, widths.first().toString());
        }
        if (c.hasNonNull("norm_num_groups")) meta.put(ModelMetadata.UNET_NORM_GROUPS, c.get("norm_num_groups").asText());
    }

    private static void vae(Path dir, Arena arena, Map<String, TensorData> out, Map<String, String> meta) {
        Path sub = dir.resolve("vae");
        Map<String, TensorData> raw = weights(sub, "diffusion_pytorch_model", arena);
        int levels = indices(raw, VAE_LEVEL).size();
        for (var e : raw.entrySet()) {
            String ldm = DiffusersNames.vaeToLdm(e.getKey(), levels);
            TensorData t = e.getValue();
            if (ldm != null && ldm.contains(".mid.attn_1.") && ldm.endsWith(".weight") && t.rank() == 2) {
                t = t.reshaped(t.dim(0), t.dim(1), 1, 1); // linear in diffusers, 1x1 conv in LDM: same bytes
            }
            put(out, ldm == null ? "vae." + e.getKey() : NetworkLayout.VAE_PREFIX + ldm, t);
        }
        JsonNode c = config(sub.resolve("config.json"), true);
        if (c.hasNonNull("scaling_factor")) meta.put(ModelMetadata.VAE_SCALE_FACTOR, Double.toString(c.get("scaling_factor").asDouble()));
        if (c.hasNonNull("norm_num_groups")) meta.put(ModelMetadata.VAE_NORM_GROUPS, c.get("norm_num_groups").asText());
    }

    /**
     * A text encoder folder: CLIPTextModel's own names (and CLIPTextModelWithProjection's
     * {@code text_projection.weight}) are the canonical ones under {@code root}.
     */
    private static void text(Path dir, String folder, String root, Arena arena, Map<String, TensorData> out, Map<String, String> meta,
                             String headsKey, String activationKey) {
        Path sub = dir.resolve(folder);
        Map<String, TensorData> raw = weights(sub, "model", arena);
        for (var e : raw.entrySet()) put(out, root + e.getKey(), e.getValue());
        JsonNode c = config(sub.resolve("config.json"), true);
        if (c.hasNonNull("num_attention_heads")) meta.put(headsKey, c.get("num_attention_heads").asText());
        if (c.hasNonNull("hidden_act")) meta.put(activationKey, c.get("hidden_act").asText());
    }

    /** {@code <stem>.safetensors}, its fp16 variant, or {@code <stem>.bin} through the PyTorch reader. */
    private static Map<String, TensorData> weights(Path sub, String stem, Arena arena) {
        if (!Files.isDirectory(sub)) throw new ModelFileException(sub, "missing component folder");
        String bin = stem.equals("model") ? "pytorch_model" : stem;
        for (String name : new String[] {stem + ".safetensors", stem + ".fp16.safetensors"}) {
            Path f = sub.resolve(name);
            if (Files.isRegularFile(f)) return SafetensorsReader.read(f, arena, new HashMap<>());
        }
        for (String name : new String[] {bin + ".bin", bin + ".fp16.bin"}) {
            Path f = sub.resolve(name);
            if (Files.isRegularFile(f)) return TorchCheckpointReader.read(f, arena, new HashMap<>());
        }
        throw new ModelFileException(sub, "no " + stem + ".safetensors or " + bin + ".bin");
    }

    private static JsonNode config(Path file, boolean required) {
        if (!Files.isRegularFile(file)) {
            if (required) throw new ModelFileException(file, "missing config file");
            return null;
        }
        try {
            JsonNode n = JSON.readTree(file.toFile());
            if (n == null || !n.isObject()) throw new ModelFileException(file, "config is not a JSON object");
            return n;
        } catch (IOException e) {
            throw new ModelFileException(file, "config is not valid JSON");
        }
    }

    private static TreeSet<Integer> indices(Map<String, TensorData> raw, Pattern p) {
        TreeSet<Integer> out = new TreeSet<>();
        for (String name : raw.keySet()) {
            Matcher m = p.matcher(name);
            if (m.matches()) out.add(Integer.parseInt(m.group(1)));
        }
        return out;
    }

    private static void put(Map<String, TensorData> out, String name, TensorData t) {
        if (out.putIfAbsent(name, t.renamed(name)) != null) throw new IllegalArgumentException("tensor " + name + " appears twice");
    }
}
