package dev.ember.engine.model;

import dev.ember.engine.sampling.Prediction;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The same tensors written as safetensors, .ckpt, gguf and a diffusers folder load to identical canonical tensors. */
class ModelFormatsTest {
    @TempDir
    Path dir;

    /** A tiny SD 2.x-shaped spec: GELU text encoder, head width 16, linear projections, v prediction. */
    static final ModelSpec TINY_SD2 = new ModelSpec(Architecture.SD2, Prediction.V_PREDICTION, "metadata",
            new TextEncoderConfig(49408, 77, 32, 64, 2, 2, TextEncoderConfig.Activation.GELU, 1),
            new UnetConfig(4, 4, 32, 1, new int[] {1, 2, 2}, 0b011, 0, 16, 1, 32, true, 32), VaeConfig.TINY);

    @Test
    void sdxlTinyLoadsIdenticallyFromEveryFormat() throws IOException {
        // Single files hold sgm's names: CLIP ViT-L under conditioner.embedders.0.transformer, bigG in OpenCLIP
        // names (fused q/k/v, text_projection transposed) under conditioner.embedders.1.model; diffusers folders
        // hold text_encoder_2 with CLIPTextModelWithProjection's names and add_embedding for label_emb.
        List<Checkpoint> loaded = new ArrayList<>();
        try {
            for (ModelFormat f : ModelFormat.values()) {
                Path p = dir.resolve("xl." + f.label());
                SyntheticCheckpoint.write(ModelPreset.SDXL_TINY, p, f, DType.F16, 7);
                loaded.add(ModelFiles.open(p));
            }
            try (RawCheckpoint raw = ModelFiles.readRaw(dir.resolve("xl.safetensors"))) {
                Map<String, TensorData> names = raw.tensors().tensors();
                assertTrue(names.containsKey("conditioner.embedders.1.model.transformer.resblocks.0.attn.in_proj_weight"));
                assertTrue(names.containsKey("conditioner.embedders.0.transformer.text_model.final_layer_norm.weight"));
                assertArrayEquals(new long[] {64, 40}, names.get("conditioner.embedders.1.model.text_projection").shape());
            }
            assertTrue(Files.isRegularFile(dir.resolve("xl.diffusers/text_encoder_2/model.safetensors")));
            Checkpoint ref = loaded.getFirst();
            assertEquals(ModelPreset.SDXL_TINY.spec().text2(), ref.spec().text2());
            assertEquals(ModelPreset.SDXL_TINY.spec().unet(), ref.spec().unet());
            TensorData projection = ref.tensors().get(NetworkLayout.TEXT2_ROOT + NetworkLayout.PROJECTION);
            assertArrayEquals(new long[] {40, 64}, projection.shape());
            // The transposed copy holds exactly the synthetic values in Hugging Face's orientation.
            TensorSpec spec = NetworkLayout.textEncoder2(TextEncoderConfig.TINY_XL_G).getLast();
            try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
                MemorySegment expected = arena.allocate(spec.elementCount() * 2);
                SyntheticWeights.fill(spec, 7, DType.F16, expected);
                assertEquals(-1, expected.mismatch(projection.data()));
            }
            for (Checkpoint c : loaded) {
                assertEquals(ref.spec().architecture(), c.spec().architecture(), c.format().label());
                assertEquals(ref.spec().text(), c.spec().text(), c.format().label());
                assertEquals(ref.spec().text2(), c.spec().text2(), c.format().label());
                assertEquals(ref.spec().unet(), c.spec().unet(), c.format().label());
                assertEquals(ref.spec().vae(), c.spec().vae(), c.format().label());
                assertEquals(ref.tensors().tensors().keySet(), c.tensors().tensors().keySet());
                for (var e : ref.tensors().tensors().entrySet()) assertEquals(e.getValue(), c.tensors().get(e.getKey()), e.getKey());
                assertTrue(c.report().unused().isEmpty(), c.format().label() + ": " + c.report().unused());
            }
        } finally {
            loaded.forEach(Checkpoint::close);
        }
    }

    @Test
    void tinyLoadsIdenticallyFromEveryFormat() {
        List<Checkpoint> loaded = new ArrayList<>();
        try {
            for (ModelFormat f : ModelFormat.values()) {
                Path p = dir.resolve("tiny." + f.label());
                SyntheticCheckpoint.write(ModelPreset.TINY, p, f, DType.F16, 7);
                Checkpoint c = ModelFiles.open(p);
                assertEquals(f, c.format());
                loaded.add(c);
            }
            Checkpoint ref = loaded.getFirst();
            assertEquals(ModelPreset.TINY.spec().unet(), ref.spec().unet());
            assertEquals(ModelPreset.TINY.spec().text(), ref.spec().text());
            assertEquals(ModelPreset.TINY.spec().vae(), ref.spec().vae());
            int expected = NetworkLayout.unet(UnetConfig.TINY).size() + NetworkLayout.vae(VaeConfig.TINY).size()
                    + NetworkLayout.textEncoder(TextEncoderConfig.TINY).size();
            assertEquals(expected, ref.tensors().tensors().size());
            for (Checkpoint c : loaded) {
                assertEquals(ref.spec().unet(), c.spec().unet(), c.format().label());
                assertEquals(ref.spec().text(), c.spec().text(), c.format().label());
                assertEquals(ref.spec().vae(), c.spec().vae(), c.format().label());
                assertEquals(ref.tensors().tensors().keySet(), c.tensors().tensors().keySet());
                for (var e : ref.tensors().tensors().entrySet()) assertEquals(e.getValue(), c.tensors().get(e.getKey()), e.getKey());
                assertTrue(c.report().unused().isEmpty(), c.report().unused().toString());
            }
            assertEquals("scheduler config", loaded.get(ModelFormat.DIFFUSERS.ordinal()).spec().predictionSource());
        } finally {
            loaded.forEach(Checkpoint::close);
        }
    }

    @Test
    void tensorsAreSlicesOfTheMappedFileNotCopies() {
        for (ModelFormat f : List.of(ModelFormat.SAFETENSORS, ModelFormat.CKPT, ModelFormat.GGUF)) {
            Path p = dir.resolve("map." + f.label());
            SyntheticCheckpoint.write(ModelPreset.TINY, p, f, DType.F32, 1);
            try (Checkpoint c = ModelFiles.open(p)) {
                for (TensorData t : c.tensors().tensors().values()) assertTrue(t.data().isMapped(), f + " " + t.name());
                // the values are the synthetic ones
                TensorSpec spec = NetworkLayout.unet(UnetConfig.TINY).getFirst();
                MemorySegment expect = java.lang.foreign.Arena.ofAuto().allocate(spec.elementCount() * 4);
                SyntheticWeights.fill(spec, 1, DType.F32, expect);
                assertEquals(-1, expect.mismatch(c.tensors().get(spec.name()).data()));
            }
        }
    }

    @Test
    void sameSeedGivesIdenticalBytes() throws IOException {
        for (ModelFormat f : List.of(ModelFormat.SAFETENSORS, ModelFormat.CKPT, ModelFormat.GGUF)) {
            Path a = dir.resolve("a." + f.label()), b = dir.resolve("b." + f.label()), c = dir.resolve("c." + f.label());
            SyntheticCheckpoint.write(ModelPreset.TINY, a, f, DType.BF16, 42);
            SyntheticCheckpoint.write(ModelPreset.TINY, b, f, DType.BF16, 42);
            SyntheticCheckpoint.write(ModelPreset.TINY, c, f, DType.BF16, 43);
            assertEquals(-1, Files.mismatch(a, b), f.label());
            assertTrue(Files.mismatch(a, c) >= 0, f.label());
        }
    }

    @Test
    void openClipNamesMapOntoHfClipAndExtrasAreReportedUnused() throws IOException {
        Path single = dir.resolve("sd2.safetensors"), folder = dir.resolve("sd2-diffusers");
        List<TensorSource> canonical = SyntheticCheckpoint.tensors(TINY_SD2, 3, DType.F32);
        List<TensorSource> openClip = new ArrayList<>(SyntheticCheckpoint.withOpenClipText(canonical));
        assertTrue(openClip.stream().anyMatch(t -> t.name().endsWith("resblocks.0.attn.in_proj_weight")));
        // what real checkpoints carry besides the networks
        for (String extra : List.of("cond_stage_model.model.text_projection", "cond_stage_model.model.logit_scale", "alphas_cumprod",
                "betas", "model_ema.decay", "cond_stage_model.transformer.text_model.embeddings.position_ids")) {
            openClip.add(new TensorSource(extra, DType.F32, new long[] {2}, s -> s.fill((byte) 0)));
        }
        SafetensorsWriter.write(single, ModelMetadata.describe(TINY_SD2, null), openClip);
        SyntheticCheckpoint.write(TINY_SD2, null, folder, ModelFormat.DIFFUSERS, canonical);
        try (Checkpoint a = ModelFiles.open(single); Checkpoint b = ModelFiles.open(folder)) {
            assertEquals(Architecture.SD2, a.spec().architecture());
            assertEquals(Prediction.V_PREDICTION, a.spec().prediction());
            assertEquals(TINY_SD2.unet(), a.spec().unet());
            assertEquals(TINY_SD2.unet(), b.spec().unet());
            assertEquals(TINY_SD2.text(), a.spec().text());
            assertEquals(TINY_SD2.text(), b.spec().text());
            assertEquals(Prediction.V_PREDICTION, b.spec().prediction());
            for (var e : b.tensors().tensors().entrySet()) assertEquals(e.getValue(), a.tensors().get(e.getKey()), e.getKey());
            assertEquals(b.tensors().tensors().size(), a.tensors().tensors().size());
            assertEquals(List.of("cond_stage_model.model.text_projection", "cond_stage_model.model.logit_scale", "alphas_cumprod", "betas",
                    "model_ema.decay", "cond_stage_model.transformer.text_model.embeddings.position_ids"), a.report().unused());
            TensorData q = a.tensors().get(NetworkLayout.TEXT_PREFIX + "encoder.layers.1.self_attn.q_proj.weight");
            assertArrayEquals(new long[] {32, 32}, q.shape());
            assertTrue(q.data().isMapped());
        }
    }

    @Test
    void predictionDefaultsAndOverride() {
        Path p = dir.resolve("sd2-nometa.safetensors");
        List<TensorSource> t = SyntheticCheckpoint.withOpenClipText(SyntheticCheckpoint.tensors(TINY_SD2, 0, DType.F16));
        // Without metadata a context of 32 cannot say SD 2: name it, and leave the prediction to the default.
        SafetensorsWriter.write(p, Map.of(ModelMetadata.ARCHITECTURE, "sd2", ModelMetadata.UNET_HEAD_DIM, "16",
                ModelMetadata.TEXT_NUM_HEADS, "2", ModelMetadata.TEXT_CLIP_SKIP, "1"), t);
        try (Checkpoint c = ModelFiles.open(p)) {
            assertEquals(Prediction.EPSILON, c.spec().prediction());
            assertTrue(c.spec().predictionSource().startsWith("default"), c.spec().predictionSource());
            assertEquals(TextEncoderConfig.Activation.GELU, c.spec().text().activation());
        }
        try (Checkpoint c = ModelFiles.open(p, Prediction.V_PREDICTION)) {
            assertEquals(Prediction.V_PREDICTION, c.spec().prediction());
            assertEquals("override", c.spec().predictionSource());
        }
    }

    @Test
    void componentStatsCountParametersAndDtypes() {
        Path p = dir.resolve("stats.safetensors");
        SyntheticCheckpoint.write(ModelPreset.TINY, p, ModelFormat.SAFETENSORS, DType.F16, 0);
        try (Checkpoint c = ModelFiles.open(p)) {
            assertEquals(NetworkLayoutTest.params(NetworkLayout.unet(UnetConfig.TINY)), c.report().parameters(Component.UNET));
            assertEquals(NetworkLayoutTest.params(NetworkLayout.vae(VaeConfig.TINY)), c.report().parameters(Component.VAE));
            assertEquals(NetworkLayoutTest.params(NetworkLayout.textEncoder(TextEncoderConfig.TINY)), c.report().parameters(Component.TEXT_ENCODER));
            assertEquals(java.util.Set.of(DType.F16), c.report().components().get(Component.UNET).parametersByDtype().keySet());
        }
    }
}
