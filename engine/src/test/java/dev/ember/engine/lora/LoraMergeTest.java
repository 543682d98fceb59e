package dev.ember.engine.lora;

import static dev.ember.engine.lora.HandmadeLora.Style.DIFFUSERS;
import static dev.ember.engine.lora.HandmadeLora.Style.DIFFUSERS_TEXT;
import static dev.ember.engine.lora.HandmadeLora.Style.KOHYA;
import static dev.ember.engine.lora.HandmadeLora.Style.PEFT;
import static dev.ember.engine.lora.HandmadeLora.Style.PROCESSOR;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ember.engine.GenerationRequest;
import dev.ember.engine.ModelFileAccess;
import dev.ember.engine.ModelOptions;
import dev.ember.engine.StableDiffusion;
import dev.ember.engine.StepListener;
import dev.ember.engine.TinyModels;
import dev.ember.engine.WeightType;
import dev.ember.engine.model.Checkpoint;
import dev.ember.engine.model.DType;
import dev.ember.engine.model.ModelFiles;
import dev.ember.engine.model.ModelFormat;
import dev.ember.engine.model.StateDict;
import dev.ember.engine.model.SyntheticCheckpoint;
import dev.ember.engine.model.TensorData;
import dev.ember.engine.model.TensorSource;
import dev.ember.engine.pipeline.ModelInternals;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * LoRA merging against a float64 reference written from the definition, W' = W + w * (alpha / rank) * up @ down
 * (LoCon's CP form: up @ (mid x down)), on the tiny model: the merged tensors, then whole generations with the LoRA
 * against generations from a checkpoint that holds the reference's merged weights, in f32, f16 and q8_0.
 *
 * <p>The LoRA is written here with keys chosen by hand from the published naming rules (kohya's diffusers module
 * names, one LDM-named key, PEFT's lora_A / lora_B, a text-encoder layer), each paired with the canonical weight it
 * must adapt: the pairs are the independent check of Ember's key mapping.
 */
class LoraMergeTest {
    static final String U = "model.diffusion_model.", T = "cond_stage_model.transformer.text_model.";
    // Above 4: the merger takes ranks four at a time, then one by one; 6 runs both paths.
    static final int RANK = 6;

    static final List<HandmadeLora.Layer> LAYERS = List.of(
            new HandmadeLora.Layer("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q", KOHYA, U + "input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight", 1.5, false),
            new HandmadeLora.Layer("lora_unet_mid_block_attentions_0_transformer_blocks_0_attn2_to_k", KOHYA, U + "middle_block.1.transformer_blocks.0.attn2.to_k.weight", 3.0, false),
            new HandmadeLora.Layer("lora_unet_up_blocks_1_attentions_0_transformer_blocks_0_ff_net_0_proj", KOHYA, U + "output_blocks.2.1.transformer_blocks.0.ff.net.0.proj.weight", 2.0, false),
            new HandmadeLora.Layer("lora_unet_down_blocks_0_attentions_0_proj_in", KOHYA, U + "input_blocks.1.1.proj_in.weight", 1.0, false),
            new HandmadeLora.Layer("lora_unet_down_blocks_1_resnets_0_conv1", KOHYA, U + "input_blocks.3.0.in_layers.2.weight", 2.0, false),
            new HandmadeLora.Layer("lora_unet_down_blocks_0_downsamplers_0_conv", KOHYA, U + "input_blocks.2.0.op.weight", 3.0, false),
            new HandmadeLora.Layer("lora_unet_time_embedding_linear_1", KOHYA, U + "time_embed.0.weight", 0.5, false),
            new HandmadeLora.Layer("lora_unet_output_blocks_2_1_transformer_blocks_0_attn1_to_out_0", KOHYA, U + "output_blocks.2.1.transformer_blocks.0.attn1.to_out.0.weight", 3.0, false),
            new HandmadeLora.Layer("unet.down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_v", PEFT, U + "input_blocks.3.1.transformer_blocks.0.attn2.to_v.weight", null, false),
            new HandmadeLora.Layer("lora_unet_up_blocks_0_resnets_1_conv2", KOHYA, U + "output_blocks.1.0.out_layers.3.weight", 1.0, true),
            new HandmadeLora.Layer("lora_te_text_model_encoder_layers_1_self_attn_v_proj", KOHYA, T + "encoder.layers.1.self_attn.v_proj.weight", 2.0, false),
            new HandmadeLora.Layer("text_encoder.text_model.encoder.layers.0.mlp.fc2", PEFT, T + "encoder.layers.0.mlp.fc2.weight", 1.0, false),
            // diffusers' pre-PEFT forms: LoRACompatibleLinear, attention processors, the text encoder's patched projections.
            new HandmadeLora.Layer("unet.up_blocks.1.attentions.0.transformer_blocks.0.attn2.to_q", DIFFUSERS, U + "output_blocks.2.1.transformer_blocks.0.attn2.to_q.weight", null, false),
            new HandmadeLora.Layer("unet.mid_block.attentions.0.transformer_blocks.0.attn1.processor.to_out_lora", PROCESSOR, U + "middle_block.1.transformer_blocks.0.attn1.to_out.0.weight", null, false),
            new HandmadeLora.Layer("text_encoder.text_model.encoder.layers.1.self_attn.k_proj", DIFFUSERS_TEXT, T + "encoder.layers.1.self_attn.k_proj.weight", null, false));

    @TempDir
    static Path dir;
    static Path lora;
    static HandmadeLora made;

    @BeforeAll
    static void writeLora() throws Exception {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        try (Checkpoint c = ModelFiles.open(TinyModels.tinySafetensors())) {
            for (HandmadeLora.Layer l : LAYERS) shapes.put(l.target(), c.tensors().get(l.target()).shape());
        }
        made = new HandmadeLora(LAYERS, RANK, shapes, 5);
        // Keys Ember must report, not apply: a module of no layer, and a LoHa key.
        made.tensors.add(made.random("lora_unet_no_such_block_to_q.lora_down.weight", new long[] {RANK, 4}));
        made.tensors.add(made.random("lora_unet_no_such_block_to_q.lora_up.weight", new long[] {4, RANK}));
        made.tensors.add(made.random("lora_unet_down_blocks_0_attentions_0_proj_out.hada_w1_a", new long[] {4, 4}));
        lora = made.write(dir.resolve("handmade.safetensors"));
    }

    static Map<String, double[]> reference(StateDict base, double weight) {
        return made.reference(base, weight);
    }

    static double[] load(TensorData t) {
        return HandmadeLora.load(t);
    }

    @Test
    void mergedWeightsAreTheDefinitionsToTheLastBit() {
        try (Checkpoint c = ModelFiles.open(TinyModels.tinySafetensors()); LoraFile f = LoraFile.open(lora)) {
            LoraTargets.Plan plan = LoraTargets.of(c.spec()).plan(List.of(new LoraTargets.Weighted(f, 0.7)));
            assertEquals(LAYERS.size(), plan.updates().size(), "every hand-made key found its layer: " + plan.updates().keySet());
            for (HandmadeLora.Layer l : LAYERS) assertTrue(plan.updates().containsKey(l.target()), l.key() + " -> " + l.target());
            assertTrue(plan.warnings().stream().anyMatch(w -> w.contains("lora_unet_no_such_block_to_q")), plan.warnings().toString());
            assertTrue(plan.warnings().stream().anyMatch(w -> w.contains("hada_w1_a") && w.contains("LoHa")), plan.warnings().toString());
            Map<String, double[]> ref = reference(c.tensors(), 0.7);
            try (LoraMerger.Merged merged = LoraMerger.merge(plan, c.tensors(), DType.F32)) {
                int checked = 0;
                for (TensorData t : merged.tensors()) {
                    double[] expected = ref.get(t.name());
                    for (int i = 0; i < expected.length; i++) {
                        float got = t.data().getAtIndex(ValueLayout.JAVA_FLOAT, i);
                        // Both sums are taken in double and rounded once; their orders differ, so the f32 results may
                        // differ by the last bit where a double lands near a rounding boundary.
                        assertTrue(Math.abs(got - (float) expected[i]) <= Math.ulp((float) expected[i]),
                                t.name() + "[" + i + "]: " + got + " vs " + expected[i]);
                        checked++;
                    }
                }
                assertTrue(checked > 10_000, "checked " + checked + " values");
                // Columns in blocks of 64 (several per row of the wider weights): the same values, bit for bit.
                try (LoraMerger.Merged blocked = LoraMerger.merge(plan, c.tensors(), DType.F32, 1)) {
                    for (int t = 0; t < merged.tensors().size(); t++) {
                        TensorData a = merged.tensors().get(t), b = blocked.tensors().get(t);
                        assertEquals(-1L, a.data().mismatch(b.data()), a.name() + " merged in blocks of 64 columns");
                    }
                }
            }
        }
    }

    /** A checkpoint holding the reference's merged weights at {@code weight} (f32), made from {@code basePath}'s weights. */
    static Path referenceCheckpoint(Path basePath, double weight) {
        Path out = dir.resolve("merged-" + basePath.getFileName() + "-" + weight + ".safetensors");
        try (Checkpoint c = ModelFiles.open(basePath)) {
            Map<String, double[]> ref = reference(c.tensors(), weight);
            List<TensorSource> tensors = new ArrayList<>();
            for (TensorData t : c.tensors().tensors().values()) {
                double[] m = ref.get(t.name());
                if (m == null) tensors.add(TensorSource.of(t));
                else tensors.add(new TensorSource(t.name(), DType.F32, t.shape(), seg -> {
                    for (int i = 0; i < m.length; i++) seg.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) m[i]);
                }));
            }
            SyntheticCheckpoint.write(c.spec(), "tiny", out, ModelFormat.SAFETENSORS, tensors);
        }
        return out;
    }

    static float[] finalLatent(StableDiffusion sd, GenerationRequest request) {
        float[][] last = new float[1][];
        sd.generate(request, e -> {
            if (e.step() == e.totalSteps()) last[0] = e.latent().toArray(ValueLayout.JAVA_FLOAT);
            return StepListener.Action.CONTINUE;
        });
        assertNotNull(last[0]);
        return last[0];
    }

    static double relativeL2(float[] a, float[] b) {
        double num = 0, den = 0;
        for (int i = 0; i < a.length; i++) {
            num += (a[i] - b[i]) * (double) (a[i] - b[i]);
            den += b[i] * (double) b[i];
        }
        return Math.sqrt(num / den);
    }

    /**
     * One model: base file and type with the LoRA at 0.7, against the reference's merged checkpoint loaded with
     * {@code referenceType}; then the LoRA taken out (the model's own output again) and put back (from the cache).
     */
    static void againstMergedCheckpoint(Path base, WeightType type, WeightType referenceType, String label) {
        againstMergedCheckpoint(base, type, referenceType, label, ModelFileAccess.MAPPED);
    }

    static void againstMergedCheckpoint(Path base, WeightType type, WeightType referenceType, String label, ModelFileAccess access) {
        Path merged = referenceCheckpoint(base, 0.7);
        GenerationRequest plain = GenerationRequest.builder("a lighthouse at dusk").size(64, 64).steps(3).seed(11).build();
        GenerationRequest withLora = plain.toBuilder().lora(lora, 0.7).build();
        float[] reference;
        try (StableDiffusion ref = StableDiffusion.load(merged, ModelOptions.defaults().withThreads(2).withWeightType(referenceType))) {
            reference = finalLatent(ref, plain);
        }
        try (StableDiffusion sd = StableDiffusion.load(base, ModelOptions.defaults().withThreads(2).withWeightType(type).withFileAccess(access))) {
            float[] own = finalLatent(sd, plain);
            float[] applied = finalLatent(sd, withLora);
            double err = relativeL2(applied, reference), change = relativeL2(own, reference);
            System.out.printf("LoRA, %s: against the merged checkpoint %.3e; the LoRA's own change %.3e%n", label, err, change);
            assertEquals(0.0, err, label + ": the LoRA gives the merged checkpoint's output");
            assertTrue(change > 1e-2, "the LoRA changes the output: " + change);
            LoraState.Switch s = ModelInternals.lastLoraSwitch(sd);
            assertTrue(s.merged() && s.weights() == LAYERS.size(), s.toString());
            assertEquals(0.0, relativeL2(finalLatent(sd, plain), own), label + ": without the LoRA again, the model's own output");
            assertEquals(0.0, relativeL2(finalLatent(sd, withLora), applied), label + ": the LoRA again, from the cache");
            assertFalse(ModelInternals.lastLoraSwitch(sd).merged(), "the second switch to the set reused its merged weights");
        }
    }

    @Test
    void f16WeightsUsedInPlaceGetExactlyTheMergedCheckpointsOutput() {
        // An f16 file keeps its weights in place: the merged f16 tensors are used in place too, and the originals are
        // pointed at again when the LoRA goes. The reference stores the merged f32 values as f16, one rounding each.
        againstMergedCheckpoint(f16Tiny(), WeightType.AUTO, WeightType.F16, "f16 file, in place");
    }

    @Test
    void f16AndQ8CopiesGetExactlyTheMergedCheckpointsOutput() {
        // Merged before quantisation: q8_0 rounds the merged weights as it would a checkpoint holding them.
        againstMergedCheckpoint(TinyModels.tinySafetensors(), WeightType.F16, WeightType.F16, "f32 file as f16");
        againstMergedCheckpoint(TinyModels.tinySafetensors(), WeightType.Q8_0, WeightType.Q8_0, "f32 file as q8_0");
        // COPIED: the model holds no mapping, so the originals are read again from the file at their positions.
        againstMergedCheckpoint(f16Tiny(), WeightType.AUTO, WeightType.F16, "f16 file, copied", ModelFileAccess.COPIED);
    }

    static Path f16Tiny() {
        Path out = dir.resolve("tiny-f16.safetensors");
        if (!java.nio.file.Files.exists(out)) {
            SyntheticCheckpoint.write(dev.ember.engine.model.ModelPreset.TINY, out, ModelFormat.SAFETENSORS, DType.F16, 1234);
        }
        return out;
    }
}
