package dev.ember.cli;

import dev.ember.engine.model.DType;
import dev.ember.engine.model.ModelPreset;
import dev.ember.engine.model.ModelSpec;
import dev.ember.engine.model.SafetensorsWriter;
import dev.ember.engine.model.TensorSource;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * {@code ember make-model --preset embedding-<model>}: a textual-inversion embedding to try {@code --embeddings-dir}
 * with, in the layout A1111 reads: {@code emb_params} [n, width] for SD 1.x/2.x, {@code clip_l} and {@code clip_g}
 * for SDXL. Seeded N(0, 0.05^2) values, about the size of CLIP's token embeddings.
 */
final class SyntheticEmbedding {
    /** The presets and the model each is for. */
    static final Map<String, ModelPreset> BASES = Map.of("embedding-tiny", ModelPreset.TINY, "embedding-sd15", ModelPreset.SD15,
            "embedding-sdxl-tiny", ModelPreset.SDXL_TINY, "embedding-sdxl", ModelPreset.SDXL);

    private SyntheticEmbedding() {}

    static void write(Path file, ModelPreset base, int vectors, long seed) {
        ModelSpec spec = base.spec();
        Random random = new Random(seed);
        List<TensorSource> tensors = new ArrayList<>();
        if (spec.text2() == null) {
            tensors.add(gaussian("emb_params", vectors, spec.text().hiddenSize(), random));
        } else {
            tensors.add(gaussian("clip_l", vectors, spec.text().hiddenSize(), random));
            tensors.add(gaussian("clip_g", vectors, spec.text2().hiddenSize(), random));
        }
        SafetensorsWriter.write(file, Map.of("ember.synthetic", "embedding for " + base.label() + ", seed " + seed), tensors);
    }

    private static TensorSource gaussian(String name, int rows, int width, Random random) {
        float[] v = new float[rows * width];
        for (int i = 0; i < v.length; i++) v[i] = (float) (0.05 * random.nextGaussian());
        return new TensorSource(name, DType.F32, new long[] {rows, width}, seg -> {
            for (int i = 0; i < v.length; i++) seg.setAtIndex(ValueLayout.JAVA_FLOAT, i, v[i]);
        });
    }
}
