package dev.ember.engine.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ember.engine.UnsupportedModelException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Variants real diffusers folders come in: int attention_head_dim, old VAE attention names, .bin weights. */
class DiffusersReaderTest {
    @TempDir
    Path dir;

    @Test
    void olderDiffusersLayoutsLoadToTheSameTensors() throws IOException {
        Path ref = dir.resolve("ref"), old = dir.resolve("old");
        SyntheticCheckpoint.write(ModelPreset.TINY, ref, ModelFormat.DIFFUSERS, DType.F32, 9);
        SyntheticCheckpoint.write(ModelPreset.TINY, old, ModelFormat.DIFFUSERS, DType.F32, 9);
        // SD 1.x configs give the head count as one int
        Path unetConfig = old.resolve("unet/config.json");
        Files.writeString(unetConfig, Files.readString(unetConfig).replaceAll("\"attention_head_dim\"\\s*:\\s*\\[[^]]*]", "\"attention_head_dim\" : 2"));
        // diffusers < 0.14 named the VAE attention query/key/value/proj_attn
        Path vaeFile = old.resolve("vae/diffusion_pytorch_model.safetensors");
        try (RawCheckpoint vae = SafetensorsReader.open(vaeFile)) {
            List<TensorSource> renamed = new ArrayList<>();
            for (TensorData t : vae.tensors().tensors().values()) {
                String n = t.name().replace("attentions.0.to_q.", "attentions.0.query.").replace("attentions.0.to_k.", "attentions.0.key.")
                        .replace("attentions.0.to_v.", "attentions.0.value.").replace("attentions.0.to_out.0.", "attentions.0.proj_attn.");
                renamed.add(TensorSource.of(t).as(n, t.shape()));
            }
            SafetensorsWriter.write(old.resolve("vae/new.safetensors"), Map.of(), renamed);
        }
        Files.move(old.resolve("vae/new.safetensors"), vaeFile, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        // text encoder as pytorch_model.bin
        Path textFile = old.resolve("text_encoder/model.safetensors");
        try (RawCheckpoint text = SafetensorsReader.open(textFile)) {
            TorchCheckpointWriter.write(old.resolve("text_encoder/pytorch_model.bin"), Map.of(),
                    text.tensors().tensors().values().stream().map(TensorSource::of).toList());
        }
        Files.delete(textFile);

        try (Checkpoint a = ModelFiles.open(ref); Checkpoint b = ModelFiles.open(old)) {
            assertEquals(a.spec(), b.spec());
            for (var e : a.tensors().tensors().entrySet()) assertEquals(e.getValue(), b.tensors().get(e.getKey()), e.getKey());
            assertEquals(2, b.spec().unet().numHeads());
        }
    }

    @Test
    void theSdxlRefinerFolderIsRefused() throws IOException {
        Path d = dir.resolve("refiner");
        SyntheticCheckpoint.write(ModelPreset.SDXL_TINY, d, ModelFormat.DIFFUSERS, DType.F16, 0);
        // The refiner has bigG alone: text_encoder_2 without text_encoder.
        try (var files = Files.walk(d.resolve("text_encoder"))) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        }
        var e = assertThrows(UnsupportedModelException.class, () -> ModelFiles.open(d));
        assertTrue(e.getMessage().contains("SDXL refiner"), e.getMessage());
    }

    @Test
    void pipelinesOfOtherFamiliesAreRefusedByName() throws IOException {
        String[][] cases = {{"StableDiffusion3Pipeline", "Stable Diffusion 3"}, {"FluxPipeline", "Flux"},
            {"StableVideoDiffusionPipeline", "video"}, {"PixArtAlphaPipeline", "diffusion transformer"}};
        for (String[] c : cases) {
            Path d = dir.resolve(c[0]);
            Files.createDirectories(d.resolve("transformer"));
            Files.writeString(d.resolve("model_index.json"), "{\"_class_name\": \"" + c[0] + "\"}");
            var e = assertThrows(UnsupportedModelException.class, () -> ModelFiles.open(d));
            assertTrue(e.getMessage().contains(c[1]), e.getMessage());
            assertTrue(e.getMessage().contains(c[0]), e.getMessage());
        }
    }

    @Test
    void namesRoundTripForTheFullSizeLayouts() {
        for (ModelPreset p : ModelPreset.values()) {
            UnetConfig u = p.spec().unet();
            Map<String, String> seen = new HashMap<>();
            for (TensorSpec s : NetworkLayout.unet(u)) {
                String ldm = s.name().substring(NetworkLayout.UNET_PREFIX.length());
                String d = DiffusersNames.unetToDiffusers(ldm, u.numResBlocks());
                assertEquals(null, seen.put(d, ldm), d);
                int level = u.numLevels();
                assertEquals(ldm, DiffusersNames.unetToLdm(d, u.numResBlocks(), i -> u.hasAttention(level - 1 - i)), d);
            }
            VaeConfig v = p.spec().vae();
            for (TensorSpec s : NetworkLayout.vae(v)) {
                String ldm = s.name().substring(NetworkLayout.VAE_PREFIX.length());
                assertEquals(ldm, DiffusersNames.vaeToLdm(DiffusersNames.vaeToDiffusers(ldm, v.numLevels()), v.numLevels()), ldm);
            }
        }
        // spot checks against the conversion script's table (SD 1.5)
        assertEquals("down_blocks.1.attentions.1.proj_in.weight", DiffusersNames.unetToDiffusers("input_blocks.5.1.proj_in.weight", 2));
        assertEquals("down_blocks.2.downsamplers.0.conv.weight", DiffusersNames.unetToDiffusers("input_blocks.9.0.op.weight", 2));
        assertEquals("up_blocks.0.upsamplers.0.conv.bias", DiffusersNames.unetToDiffusers("output_blocks.2.1.conv.bias", 2));
        assertEquals("up_blocks.1.upsamplers.0.conv.bias", DiffusersNames.unetToDiffusers("output_blocks.5.2.conv.bias", 2));
        assertEquals("mid_block.resnets.1.time_emb_proj.weight", DiffusersNames.unetToDiffusers("middle_block.2.emb_layers.1.weight", 2));
        assertEquals("decoder.up_blocks.0.resnets.2.conv_shortcut.weight", DiffusersNames.vaeToDiffusers("decoder.up.3.block.2.nin_shortcut.weight", 4));
        assertEquals("encoder.mid_block.attentions.0.to_out.0.weight", DiffusersNames.vaeToDiffusers("encoder.mid.attn_1.proj_out.weight", 4));
        // SDXL (diffusers' convert_original_stable_diffusion_to_diffusers, SDXL base)
        assertEquals("add_embedding.linear_1.weight", DiffusersNames.unetToDiffusers("label_emb.0.0.weight", 2));
        assertEquals("add_embedding.linear_2.bias", DiffusersNames.unetToDiffusers("label_emb.0.2.bias", 2));
        assertEquals("up_blocks.0.upsamplers.0.conv.weight", DiffusersNames.unetToDiffusers("output_blocks.2.2.conv.weight", 2));
        assertEquals("down_blocks.2.attentions.1.transformer_blocks.9.ff.net.2.weight",
                DiffusersNames.unetToDiffusers("input_blocks.8.1.transformer_blocks.9.ff.net.2.weight", 2));
        assertEquals("up_blocks.2.resnets.2.conv_shortcut.weight", DiffusersNames.unetToDiffusers("output_blocks.8.0.skip_connection.weight", 2));
    }
}
