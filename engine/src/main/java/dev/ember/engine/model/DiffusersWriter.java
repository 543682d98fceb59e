package dev.ember.engine.model;

import dev.ember.engine.sampling.Prediction;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Writes a diffusers folder from canonical tensors: each component's safetensors file under diffusers
 * names (the VAE's 1x1 attention convs as linears), its {@code config.json}, the scheduler config with
 * the prediction type, and {@code model_index.json}. The inverse of {@link DiffusersReader}.
 */
public final class DiffusersWriter {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private DiffusersWriter() {}

    /** Writes {@code tensors} (canonical names, all three components) as a diffusers folder {@code dir}. */
    public static void write(Path dir, ModelSpec spec, List<TensorSource> tensors) {
        List<TensorSource> unet = new ArrayList<>(), vae = new ArrayList<>(), text = new ArrayList<>(), text2 = new ArrayList<>();
        for (TensorSource t : tensors) {
            String n = t.name();
            if (n.startsWith(NetworkLayout.TEXT2_ROOT)) {
                text2.add(t.as(n.substring(NetworkLayout.TEXT2_ROOT.length()), t.shape()));
            } else if (n.startsWith(NetworkLayout.UNET_PREFIX)) {
                unet.add(t.as(DiffusersNames.unetToDiffusers(n.substring(NetworkLayout.UNET_PREFIX.length()), spec.unet().numResBlocks()), t.shape()));
            } else if (n.startsWith(NetworkLayout.VAE_PREFIX)) {
                String d = DiffusersNames.vaeToDiffusers(n.substring(NetworkLayout.VAE_PREFIX.length()), spec.vae().numLevels());
                long[] s = t.shape();
                boolean attnLinear = d.contains("mid_block.attentions.0.") && d.endsWith(".weight") && s.length == 4;
                vae.add(attnLinear ? t.as(d, s[0], s[1]) : t.as(d, s));
            } else if (n.startsWith(CanonicalNames.OLD_HF_PREFIX)) {
                text.add(t.as(n.substring(CanonicalNames.OLD_HF_PREFIX.length()), t.shape()));
            } else {
                throw new IllegalArgumentException("no diffusers component for " + n);
            }
        }
        try {
            Files.createDirectories(dir);
            for (String s : new String[] {"unet", "vae", "text_encoder", "scheduler"}) Files.createDirectories(dir.resolve(s));
            SafetensorsWriter.write(dir.resolve("unet/diffusion_pytorch_model.safetensors"), Map.of(), unet);
            SafetensorsWriter.write(dir.resolve("vae/diffusion_pytorch_model.safetensors"), Map.of(), vae);
            SafetensorsWriter.write(dir.resolve("text_encoder/model.safetensors"), Map.of(), text);
            json(dir.resolve("unet/config.json"), unetConfig(spec));
            json(dir.resolve("vae/config.json"), vaeConfig(spec.vae()));
            json(dir.resolve("text_encoder/config.json"), textConfig(spec.text()));
            if (spec.text2() != null) {
                Files.createDirectories(dir.resolve("text_encoder_2"));
                SafetensorsWriter.write(dir.resolve("text_encoder_2/model.safetensors"), Map.of(), text2);
                json(dir.resolve("text_encoder_2/config.json"), textConfig(spec.text2()));
            }
            ObjectNode sched = JSON.createObjectNode();
            sched.put("_class_name", "PNDMScheduler").put("beta_start", 0.00085).put("beta_end", 0.012)
                    .put("beta_schedule", "scaled_linear").put("num_train_timesteps", 1000)
                    .put("prediction_type", spec.prediction() == Prediction.V_PREDICTION ? "v_prediction" : "epsilon");
            json(dir.resolve("scheduler/scheduler_config.json"), sched);
            ObjectNode index = JSON.createObjectNode();
            index.put("_class_name", spec.text2() != null ? "StableDiffusionXLPipeline" : "StableDiffusionPipeline");
            index.putArray("unet").add("diffusers").add("UNet2DConditionModel");
            index.putArray("vae").add("diffusers").add("AutoencoderKL");
            index.putArray("text_encoder").add("transformers").add("CLIPTextModel");
            if (spec.text2() != null) index.putArray("text_encoder_2").add("transformers").add("CLIPTextModelWithProjection");
            index.putArray("scheduler").add("diffusers").add("PNDMScheduler");
            json(dir.resolve("model_index.json"), index);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + dir + ": " + e.getMessage(), e);
        }
    }

    private static ObjectNode unetConfig(ModelSpec spec) {
        UnetConfig u = spec.unet();
        ObjectNode c = JSON.createObjectNode();
        c.put("_class_name", "UNet2DConditionModel");
        c.put("in_channels", u.inChannels()).put("out_channels", u.outChannels()).put("layers_per_block", u.numResBlocks());
        ArrayNode ch = c.putArray("block_out_channels"), heads = c.putArray("attention_head_dim");
        ArrayNode down = c.putArray("down_block_types"), up = c.putArray("up_block_types");
        for (int i = 0; i < u.numLevels(); i++) {
            ch.add(u.channels(i));
            heads.add(u.headsAt(u.channels(i)));
            down.add(u.hasAttention(i) ? "CrossAttnDownBlock2D" : "DownBlock2D");
        }
        for (int i = u.numLevels() - 1; i >= 0; i--) up.add(u.hasAttention(i) ? "CrossAttnUpBlock2D" : "UpBlock2D");
        c.put("cross_attention_dim", u.contextDim()).put("use_linear_projection", u.linearProjection()).put("norm_num_groups", u.normGroups());
        if (u.middleDepth() == u.transformerDepth() && java.util.Arrays.stream(u.levelDepths()).allMatch(d -> d == 0 || d == u.transformerDepth())) {
            c.put("transformer_layers_per_block", u.transformerDepth());
        } else {
            // diffusers gives levels without attention a depth too (SDXL: [1, 2, 10]); the middle block takes the last level's.
            ArrayNode depths = c.putArray("transformer_layers_per_block");
            for (int i = 0; i < u.numLevels(); i++) depths.add(Math.max(1, u.depthAt(i)));
        }
        if (u.hasVectorConditioning()) {
            c.put("addition_embed_type", "text_time").put("addition_time_embed_dim", spec.sizeEmbedDim())
                    .put("projection_class_embeddings_input_dim", u.admInChannels());
        }
        return c;
    }

    private static ObjectNode vaeConfig(VaeConfig v) {
        ObjectNode c = JSON.createObjectNode();
        c.put("_class_name", "AutoencoderKL");
        c.put("in_channels", v.imageChannels()).put("out_channels", v.imageChannels()).put("latent_channels", v.latentChannels());
        ArrayNode ch = c.putArray("block_out_channels");
        for (int i = 0; i < v.numLevels(); i++) ch.add(v.channels(i));
        c.put("layers_per_block", v.numResBlocks()).put("norm_num_groups", v.normGroups()).put("scaling_factor", v.scaleFactor());
        return c;
    }

    private static ObjectNode textConfig(TextEncoderConfig t) {
        ObjectNode c = JSON.createObjectNode();
        c.putArray("architectures").add(t.projectionDim() > 0 ? "CLIPTextModelWithProjection" : "CLIPTextModel");
        if (t.projectionDim() > 0) c.put("projection_dim", t.projectionDim());
        c.put("vocab_size", t.vocabSize()).put("max_position_embeddings", t.maxPositions()).put("hidden_size", t.hiddenSize())
                .put("intermediate_size", t.intermediateSize()).put("num_hidden_layers", t.numLayers())
                .put("num_attention_heads", t.numHeads()).put("hidden_act", ModelMetadata.activationName(t.activation()));
        return c;
    }

    private static void json(Path file, ObjectNode node) throws IOException {
        Files.write(file, JSON.writeValueAsBytes(node));
    }
}
