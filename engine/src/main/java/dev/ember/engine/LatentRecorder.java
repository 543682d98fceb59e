package dev.ember.engine;

import dev.ember.engine.model.DType;
import dev.ember.engine.model.SafetensorsWriter;
import dev.ember.engine.model.TensorSource;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * A {@link StepListener} that keeps a generation's raw trajectory and writes it, once the generation has
 * succeeded, as one {@code step-NN.safetensors} per step: tensor {@code latent} (the current latent x) and, after
 * step 0, {@code denoised} (the model's estimate of the clean latent made during that step), both float32
 * {@code [1, channels, h, w]} in the UNet's (scaled) latent space, exactly the values the sampler held; metadata
 * {@code step}, {@code total_steps}, {@code sigma}, {@code timestep}, {@code seed} and {@code image_index} (strings,
 * as safetensors metadata is). numpy/torch users read them with the {@code safetensors} package.
 */
public final class LatentRecorder implements StepListener {
    /** imageIndex -> step -> event. */
    private final Map<Integer, TreeMap<Integer, StepEvent>> steps = new TreeMap<>();

    @Override
    public synchronized Action onStep(StepEvent event) {
        steps.computeIfAbsent(event.imageIndex(), i -> new TreeMap<>()).put(event.step(), event);
        return Action.CONTINUE;
    }

    /**
     * Writes image {@code imageIndex}'s steps into {@code folder} (made if missing), after removing older
     * {@code step-NN.safetensors} there, and returns the files.
     */
    public synchronized List<Path> write(int imageIndex, Path folder) throws IOException {
        TreeMap<Integer, StepEvent> events = steps.getOrDefault(imageIndex, new TreeMap<>());
        if (events.isEmpty()) return List.of();
        Files.createDirectories(folder);
        try (DirectoryStream<Path> old = Files.newDirectoryStream(folder, "step-[0-9]*.safetensors")) {
            for (Path f : old) if (f.getFileName().toString().matches("step-\\d+\\.safetensors")) Files.deleteIfExists(f);
        }
        int digits = Math.max(2, Integer.toString(events.lastKey()).length());
        List<Path> written = new ArrayList<>();
        for (StepEvent e : events.values()) {
            Path file = folder.resolve(String.format(Locale.ROOT, "step-%0" + digits + "d.safetensors", e.step()));
            long[] shape = {1, e.latentChannels(), e.latentHeight(), e.latentWidth()};
            List<TensorSource> tensors = new ArrayList<>();
            tensors.add(tensor("latent", shape, e.latent()));
            if (e.denoised() != null) tensors.add(tensor("denoised", shape, e.denoised()));
            Map<String, String> meta = new LinkedHashMap<>();
            meta.put("step", Integer.toString(e.step()));
            meta.put("total_steps", Integer.toString(e.totalSteps()));
            meta.put("sigma", Double.toString(e.sigma()));
            meta.put("timestep", Double.toString(e.timestep()));
            meta.put("seed", Long.toString(e.seed()));
            meta.put("image_index", Integer.toString(e.imageIndex()));
            SafetensorsWriter.write(file, meta, tensors);
            written.add(file);
        }
        return written;
    }

    private static TensorSource tensor(String name, long[] shape, MemorySegment values) {
        return new TensorSource(name, DType.F32, shape, out -> MemorySegment.copy(values, 0, out, 0, out.byteSize()));
    }
}
