package dev.ember.engine.lora;

import static dev.ember.engine.lora.HandmadeLora.Style.KOHYA;
import static dev.ember.engine.lora.HandmadeLora.Style.PEFT;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ember.engine.GenerationRequest;
import dev.ember.engine.ModelFileAccess;
import dev.ember.engine.ModelOptions;
import dev.ember.engine.StableDiffusion;
import dev.ember.engine.TinyModels;
import dev.ember.engine.WeightType;
import dev.ember.engine.model.CanonicalNames;
import dev.ember.engine.model.Checkpoint;
import dev.ember.engine.model.DType;
import dev.ember.engine.model.ModelFiles;
import dev.ember.engine.model.ModelFormat;
import dev.ember.engine.model.ModelPreset;
import dev.ember.engine.model.SyntheticCheckpoint;
import dev.ember.engine.model.SyntheticLora;
import dev.ember.engine.model.TensorData;
import dev.ember.engine.model.TensorSource;
import dev.ember.engine.pipeline.ModelInternals;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * LoRAs on SDXL, against a float64 merge written from the definition (W' = W + w * alpha / rank * up @ down) on the
 * tiny SDXL preset: kohya's SDXL keys (sgm UNet module names, {@code lora_te1_} / {@code lora_te2_}), diffusers /
 * PEFT keys ({@code unet.}, {@code text_encoder.}, {@code text_encoder_2.}), the label embedding, and bigG's q/k/v,
 * which the file holds fused in one {@code in_proj_weight} and Ember splits. Every key is paired by hand with the
 * canonical weight it must adapt (the independent check of the mapping); whole generations with the LoRA must equal
 * those of a checkpoint holding the reference's merged weights, in every way the model can hold its networks.
 */
class SdxlLoraTest {
    static final String U = "model.diffusion_model.", T1 = "cond_stage_model.transformer.text_model.",
            T2 = "conditioner.embedders.1.transformer.text_model.";
    static final int RANK = 5;

    static final List<HandmadeLora.Layer> LAYERS = List.of(
            new HandmadeLora.Layer("lora_unet_input_blocks_5_1_transformer_blocks_0_attn1_to_q", KOHYA, U + "input_blocks.5.1.transformer_blocks.0.attn1.to_q.weight", 1.0, false),
            new HandmadeLora.Layer("lora_unet_middle_block_1_transformer_blocks_1_attn2_to_k", KOHYA, U + "middle_block.1.transformer_blocks.1.attn2.to_k.weight", 2.0, false),
            new HandmadeLora.Layer("lora_unet_input_blocks_3_0_in_layers_2", KOHYA, U + "input_blocks.3.0.in_layers.2.weight", 1.0, false),
            new HandmadeLora.Layer("lora_unet_label_emb_0_0", KOHYA, U + "label_emb.0.0.weight", 2.0, false),
            new HandmadeLora.Layer("lora_unet_output_blocks_2_1_proj_out", KOHYA, U + "output_blocks.2.1.proj_out.weight", 1.0, false),
            new HandmadeLora.Layer("lora_unet_output_blocks_4_0_out_layers_3", KOHYA, U + "output_blocks.4.0.out_layers.3.weight", 1.0, true),
            new HandmadeLora.Layer("unet.up_blocks.0.attentions.1.transformer_blocks.0.ff.net.2", PEFT, U + "output_blocks.1.1.transformer_blocks.0.ff.net.2.weight", null, false),
            new HandmadeLora.Layer("unet.down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_v", PEFT, U + "input_blocks.3.1.transformer_blocks.0.attn2.to_v.weight", null, false),
            new HandmadeLora.Layer("lora_te1_text_model_encoder_layers_0_self_attn_q_proj", KOHYA, T1 + "encoder.layers.0.self_attn.q_proj.weight", 2.0, false),
            new HandmadeLora.Layer("text_encoder.text_model.encoder.layers.0.mlp.fc1", PEFT, T1 + "encoder.layers.0.mlp.fc1.weight", null, false),
            new HandmadeLora.Layer("lora_te2_text_model_encoder_layers_1_self_attn_k_proj", KOHYA, T2 + "encoder.layers.1.self_attn.k_proj.weight", 1.0, false),
            new HandmadeLora.Layer("lora_te2_text_model_encoder_layers_0_self_attn_v_proj", KOHYA, T2 + "encoder.layers.0.self_attn.v_proj.weight", 2.0, false),
            new HandmadeLora.Layer("lora_te2_text_model_encoder_layers_0_mlp_fc2", KOHYA, T2 + "encoder.layers.0.mlp.fc2.weight", 1.0, false),
            new HandmadeLora.Layer("text_encoder_2.text_model.encoder.layers.2.self_attn.out_proj", PEFT, T2 + "encoder.layers.2.self_attn.out_proj.weight", null, false));

    @TempDir
    static Path dir;
    static Path lora;
    static HandmadeLora made;

    @BeforeAll
    static void writeLora() {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        try (Checkpoint c = ModelFiles.open(TinyModels.tinyXlSafetensors())) {
            for (HandmadeLora.Layer l : LAYERS) shapes.put(l.target(), c.tensors().get(l.target()).shape());
        }
        made = new HandmadeLora(LAYERS, RANK, shapes, 17);
        lora = made.write(dir.resolve("xl-handmade.safetensors"));
    }

    @Test
    void everyKeyFindsItsLayerAndTheMergeIsTheDefinitions() {
        try (Checkpoint c = ModelFiles.open(TinyModels.tinyXlSafetensors()); LoraFile f = LoraFile.open(lora)) {
            LoraTargets.Plan plan = LoraTargets.of(c.spec()).plan(List.of(new LoraTargets.Weighted(f, 0.7)));
            assertTrue(plan.warnings().isEmpty(), plan.warnings().toString());
            assertEquals(LAYERS.stream().map(HandmadeLora.Layer::target).toList(), List.copyOf(plan.updates().keySet()));
            Map<String, double[]> ref = made.reference(c.tensors(), 0.7);
            try (LoraMerger.Merged merged = LoraMerger.merge(plan, c.tensors(), DType.F32)) {
                for (TensorData t : merged.tensors()) {
                    double[] expected = ref.get(t.name());
                    for (int i = 0; i < expected.length; i++) {
                        float got = t.data().getAtIndex(ValueLayout.JAVA_FLOAT, i);
                        assertTrue(Math.abs(got - (float) expected[i]) <= Math.ulp((float) expected[i]), t.name() + "[" + i + "]");
                    }
                }
            }
        }
    }

    /** The reference's merged weights in an SDXL single file (bigG fused again, as sgm stores it), written with {@code dtype}. */
    static Path mergedCheckpoint(Path base, double weight, DType dtype) {
        Path out = dir.resolve("merged-" + base.getFileName() + "-" + dtype + ".safetensors");
        try (Checkpoint c = ModelFiles.open(base)) {
            Map<String, double[]> ref = made.reference(c.tensors(), weight);
            List<TensorSource> tensors = new ArrayList<>();
            for (TensorData t : c.tensors().tensors().values()) {
                double[] m = ref.get(t.name());
                if (m == null) tensors.add(TensorSource.of(t));
                else tensors.add(new TensorSource(t.name(), dtype, t.shape(), seg -> {
                    for (int i = 0; i < m.length; i++) {
                        if (dtype == DType.F32) seg.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) m[i]);
                        else seg.setAtIndex(ValueLayout.JAVA_SHORT, i, Float.floatToFloat16((float) m[i]));
                    }
                }));
            }
            SyntheticCheckpoint.write(c.spec(), "sdxl-tiny", out, ModelFormat.SAFETENSORS, CanonicalNames.toSdxlSingleFile(tensors));
        }
        return out;
    }

    static void againstMergedCheckpoint(Path base, ModelOptions options, WeightType referenceType, String label) {
        Path merged = mergedCheckpoint(base, 0.7, DType.F32);
        GenerationRequest plain = GenerationRequest.builder("a lighthouse at dusk").negativePrompt("fog").size(64, 64).steps(3).seed(11).cfgScale(5).build();
        GenerationRequest withLora = plain.toBuilder().lora(lora, 0.7).build();
        float[] reference;
        try (StableDiffusion ref = StableDiffusion.load(merged, ModelOptions.defaults().withThreads(2).withWeightType(referenceType))) {
            reference = LoraMergeTest.finalLatent(ref, plain);
        }
        try (StableDiffusion sd = StableDiffusion.load(base, options)) {
            float[] own = LoraMergeTest.finalLatent(sd, plain);
            float[] applied = LoraMergeTest.finalLatent(sd, withLora);
            double err = LoraMergeTest.relativeL2(applied, reference), change = LoraMergeTest.relativeL2(own, reference);
            System.out.printf("SDXL LoRA, %s: against the merged checkpoint %.3e; the LoRA's own change %.3e%n", label, err, change);
            assertEquals(0.0, err, label + ": the LoRA gives the merged checkpoint's output");
            assertTrue(change > 1e-2, "the LoRA changes the output: " + change);
            assertTrue(ModelInternals.lastLoraSwitch(sd).merged() && ModelInternals.lastLoraSwitch(sd).weights() == LAYERS.size(), ModelInternals.lastLoraSwitch(sd).toString());
            assertEquals(0.0, LoraMergeTest.relativeL2(LoraMergeTest.finalLatent(sd, plain), own), label + ": without it, the model's own output");
            assertEquals(0.0, LoraMergeTest.relativeL2(LoraMergeTest.finalLatent(sd, withLora), applied), label + ": again, from the cache");
            assertFalse(ModelInternals.lastLoraSwitch(sd).merged());
        }
    }

    @Test
    void generationsEqualTheMergedCheckpointsInEveryMode() {
        ModelOptions two = ModelOptions.defaults().withThreads(2);
        Path xl = TinyModels.tinyXlSafetensors();
        againstMergedCheckpoint(xl, two, WeightType.AUTO, "f32 file");
        // Merged before quantising: q8_0 rounds the merged weights as it would a checkpoint holding them.
        againstMergedCheckpoint(xl, two.withWeightType(WeightType.Q8_0), WeightType.Q8_0, "f32 file as q8_0");
        // Low memory: the text encoders are built for each use from the checkpoint with the merged tensors over it.
        againstMergedCheckpoint(xl, two.withLowMemory(true), WeightType.AUTO, "low memory (per-use text encoders)");
        // COPIED: originals read again at their positions, bigG's q/k/v as thirds of the fused matrix.
        againstMergedCheckpoint(xl, two.withFileAccess(ModelFileAccess.COPIED), WeightType.AUTO, "copied");
    }

    @Test
    void theSyntheticSdxlPresetMapsEveryKeyInBothFormats() throws Exception {
        try (Checkpoint c = ModelFiles.open(TinyModels.tinyXlSafetensors())) {
            for (SyntheticLora.Format format : SyntheticLora.Format.values()) {
                Path p = dir.resolve("preset-" + format + ".safetensors");
                SyntheticLora.write(p, ModelPreset.SDXL_TINY.spec(), 2, 1, 3, DType.F16, format);
                try (LoraFile f = LoraFile.open(p)) {
                    LoraTargets.Plan plan = LoraTargets.of(c.spec()).plan(List.of(new LoraTargets.Weighted(f, 1)));
                    assertTrue(plan.warnings().isEmpty(), format + ": " + plan.warnings());
                    assertEquals(f.modules().size(), plan.updates().size(), format + ": one weight per module");
                    assertTrue(plan.updates().keySet().stream().anyMatch(n -> n.startsWith(T2)), format + ": bigG adapted");
                    assertTrue(plan.updates().keySet().stream().anyMatch(n -> n.startsWith(T1)), format + ": CLIP-L adapted");
                }
            }
        }
        assertTrue(Files.exists(lora));
    }
}
