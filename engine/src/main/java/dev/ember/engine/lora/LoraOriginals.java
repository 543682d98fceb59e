package dev.ember.engine.lora;

import dev.ember.engine.ModelFileChangedException;
import dev.ember.engine.model.Checkpoint;
import dev.ember.engine.model.ModelFileWatch;
import dev.ember.engine.model.ModelFiles;
import dev.ember.engine.model.PositionalTensors;
import dev.ember.engine.model.StateDict;
import dev.ember.engine.model.TensorData;
import dev.ember.engine.model.TensorSpec;
import dev.ember.engine.sampling.Prediction;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A checkpoint's own values of the weights LoRAs adapt, for a model that holds no mapping of it (its networks
 * copied everything: {@link dev.ember.engine.ModelFileAccess#COPIED}, or a GPU): the file is watched again from
 * the first LoRA on, must have the fingerprint the model was loaded with, and the weights are read at their
 * positions (never through the mapping, whose pages a changed file could take away), each checked against its
 * first read. Thread-safe; the model closes it.
 */
public final class LoraOriginals implements AutoCloseable {
    private final ModelFileWatch watch;
    private final Checkpoint layout;
    private final ConcurrentHashMap<String, Long> checksums = new ConcurrentHashMap<>();

    private LoraOriginals(ModelFileWatch watch, Checkpoint layout) {
        this.watch = watch;
        this.layout = layout;
    }

    /**
     * Opens the model file again.
     *
     * @throws ModelFileChangedException when its fingerprint is no longer {@code fingerprint}
     */
    public static LoraOriginals open(Path path, Prediction prediction, String fingerprint) {
        ModelFileWatch watch = ModelFileWatch.open(path);
        try {
            if (!watch.fingerprint().equals(fingerprint)) {
                throw new ModelFileChangedException(path, "its content is not the loaded model's",
                        "changed since the model was loaded; load it again to apply or remove LoRAs");
            }
            return new LoraOriginals(watch, ModelFiles.open(path, prediction));
        } catch (RuntimeException | Error e) {
            watch.close();
            throw e;
        }
    }

    /** The named weights' values from the file, in memory the returned dict owns. */
    public StateDict read(Set<String> names) {
        List<TensorSpec> specs = new ArrayList<>();
        for (String n : names) specs.add(new TensorSpec(n, layout.tensors().get(n).shape(), TensorSpec.Kind.WEIGHT));
        PositionalTensors source = PositionalTensors.locate(layout.tensors(), specs, watch, checksums);
        if (source != null) return source.read();
        // Not in a mapped file (a compressed .ckpt is inflated into memory): its tensors are copies already.
        Map<String, TensorData> view = new LinkedHashMap<>();
        for (String n : names) view.put(n, layout.tensors().get(n));
        return new StateDict(view, Arena.global());
    }

    @Override
    public void close() {
        layout.close();
        watch.close();
    }
}
