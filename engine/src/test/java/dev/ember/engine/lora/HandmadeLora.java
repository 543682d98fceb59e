package dev.ember.engine.lora;

import dev.ember.engine.model.DType;
import dev.ember.engine.model.SafetensorsWriter;
import dev.ember.engine.model.StateDict;
import dev.ember.engine.model.TensorData;
import dev.ember.engine.model.TensorSource;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * A LoRA written by a test from hand-picked keys, each paired with the canonical weight it must adapt (the
 * independent check of Ember's key mapping), with random f32 values kept for the float64 reference merge written
 * from the definition: W' = W + w * (alpha / rank) * up @ down (LoCon's CP form: up @ (mid x down)).
 */
final class HandmadeLora {
    /** How a file names a module's two matrices after its key stem. */
    enum Style {
        /** kohya / A1111. */
        KOHYA(".lora_down.weight", ".lora_up.weight"),
        /** PEFT (diffusers since 0.22). */
        PEFT(".lora_A.weight", ".lora_B.weight"),
        /** diffusers' LoRACompatibleLinear / Conv (0.21). */
        DIFFUSERS(".lora.down.weight", ".lora.up.weight"),
        /** diffusers' text-encoder LoRA before PEFT (PatchedLoraProjection). */
        DIFFUSERS_TEXT(".lora_linear_layer.down.weight", ".lora_linear_layer.up.weight"),
        /** diffusers' attention processors ({@code ...attn1.processor.to_q_lora}): the stem ends with the processor's name. */
        PROCESSOR(".down.weight", ".up.weight");

        final String down, up;

        Style(String down, String up) {
            this.down = down;
            this.up = up;
        }
    }

    /** One adapted layer: its key stem, how its matrices are named, the weight, alpha (null: none in the file), CP or not. */
    record Layer(String key, Style style, String target, Double alpha, boolean cp) {}

    final List<Layer> layers;
    final int rank;
    /** The file's tensors as the reference reads them, by key. */
    final Map<String, double[]> values = new LinkedHashMap<>();
    /** The tensors to write: every layer's, then whatever a test adds. */
    final List<TensorSource> tensors = new ArrayList<>();
    final Random random;

    /** @param shapes each layer's target shape, by canonical name */
    HandmadeLora(List<Layer> layers, int rank, Map<String, long[]> shapes, long seed) {
        this.layers = List.copyOf(layers);
        this.rank = rank;
        this.random = new Random(seed);
        for (Layer l : layers) {
            long[] w = shapes.get(l.target);
            boolean conv = w.length == 4;
            long[] down = l.cp ? new long[] {rank, w[1], 1, 1} : conv ? new long[] {rank, w[1], w[2], w[3]} : new long[] {rank, w[1]};
            long[] up = conv ? new long[] {w[0], rank, 1, 1} : new long[] {w[0], rank};
            tensors.add(random(l.key + l.style.down, down));
            tensors.add(random(l.key + l.style.up, up));
            if (l.cp) tensors.add(random(l.key + ".lora_mid.weight", new long[] {rank, rank, w[2], w[3]}));
            if (l.alpha != null) tensors.add(scalar(l.key + ".alpha", l.alpha));
        }
    }

    /** A tensor of N(0, 0.3^2) values (rounded to f32), recorded for the reference. */
    TensorSource random(String name, long[] shape) {
        double[] v = new double[(int) TensorData.elementCount(shape)];
        for (int i = 0; i < v.length; i++) v[i] = (float) (0.3 * random.nextGaussian());
        values.put(name, v);
        return new TensorSource(name, DType.F32, shape, seg -> {
            for (int i = 0; i < v.length; i++) seg.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) v[i]);
        });
    }

    private TensorSource scalar(String name, double v) {
        values.put(name, new double[] {v});
        return new TensorSource(name, DType.F32, new long[0], seg -> seg.set(ValueLayout.JAVA_FLOAT, 0, (float) v));
    }

    Path write(Path file) {
        SafetensorsWriter.write(file, Map.of(), tensors);
        return file;
    }

    static double[] load(TensorData t) {
        double[] out = new double[(int) t.elementCount()];
        for (int i = 0; i < out.length; i++) {
            out[i] = t.dtype() == DType.F16 ? Float.float16ToFloat(t.data().getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i))
                    : t.data().getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i);
        }
        return out;
    }

    /** The reference: each layer's weight with the LoRA at {@code weight}, from the definition, in double. */
    Map<String, double[]> reference(StateDict base, double weight) {
        Map<String, double[]> out = new LinkedHashMap<>();
        for (Layer l : layers) {
            TensorData w = base.get(l.target);
            double[] merged = load(w);
            int rows = (int) w.dim(0), cols = merged.length / rows;
            double[] up = values.get(l.key + l.style.up);
            double[] down = values.get(l.key + l.style.down);
            double scale = l.alpha == null ? 1 : l.alpha / rank;
            double[] updown = new double[merged.length];
            if (!l.cp) {
                for (int o = 0; o < rows; o++)
                    for (int k = 0; k < cols; k++) {
                        double s = 0;
                        for (int j = 0; j < rank; j++) s += up[o * rank + j] * down[j * cols + k];
                        updown[o * cols + k] = s;
                    }
            } else {
                // einsum('n m y x, o n, m i -> o i y x', mid, up, down)
                double[] mid = values.get(l.key + ".lora_mid.weight");
                int in = (int) w.dim(1), kk = (int) (w.dim(2) * w.dim(3));
                for (int o = 0; o < rows; o++)
                    for (int i = 0; i < in; i++)
                        for (int p = 0; p < kk; p++) {
                            double s = 0;
                            for (int n = 0; n < rank; n++)
                                for (int m = 0; m < rank; m++) s += mid[(n * rank + m) * kk + p] * up[o * rank + n] * down[m * in + i];
                            updown[(o * in + i) * kk + p] = s;
                        }
            }
            for (int i = 0; i < merged.length; i++) merged[i] += weight * scale * updown[i];
            out.put(l.target, merged);
        }
        return out;
    }
}
