package dev.ember.engine.model;

import dev.ember.engine.sampling.DiffusionSchedule;
import dev.ember.engine.sampling.Prediction;
import dev.ember.engine.ModelFileException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The entry point for model files: opens a safetensors file, a PyTorch checkpoint or a diffusers
 * folder, maps its tensors into the canonical namespace, detects the architecture and validates the
 * tensors against it.
 *
 * <pre>{@code
 * try (Checkpoint ckpt = ModelFiles.open(path)) {
 *     ModelSpec spec = ckpt.spec();           // SD1/SD2, eps/v, the three configs
 *     TensorData w = ckpt.tensors().get("model.diffusion_model.out.2.weight");
 * }
 * }</pre>
 */
public final class ModelFiles {
    private ModelFiles() {}

    /** Opens {@code path}, detecting the prediction type from metadata or defaults. */
    public static Checkpoint open(Path path) {
        return open(path, null);
    }

    /**
     * Opens {@code path} and checks that every required tensor is present with its shape.
     *
     * @param predictionOverride eps or v to override what the file says (needed for SD 2.x 768-v single files
     *     without metadata), or null
     * @throws dev.ember.engine.ModelFileException for unreadable, corrupt or incomplete files (one-line message)
     * @throws dev.ember.engine.UnsupportedModelException for model families Ember cannot run (the SDXL refiner, SD3, Flux, video models)
     */
    public static Checkpoint open(Path path, Prediction predictionOverride) {
        Checkpoint c = inspect(path, predictionOverride);
        if (!c.report().complete()) {
            c.close();
            new ModelValidator.Result(c.report().missing(), c.report().wrongShape()).throwIfFailed(path, c.spec());
        }
        return c;
    }

    /**
     * Like {@link #open(Path, Prediction)} but an incomplete model is returned rather than refused: the
     * report lists the missing and misshapen tensors (for {@code ember model info}). Corrupt files still throw.
     */
    public static Checkpoint inspect(Path path, Prediction predictionOverride) {
        RawCheckpoint raw = readRaw(path);
        try {
            CanonicalNames.Result canon;
            try {
                canon = CanonicalNames.canonicalize(raw.tensors().tensors());
            } catch (IllegalArgumentException e) {
                throw new ModelFileException(path, e.getMessage());
            }
            refuseUnetOnly(path, canon.tensors());
            ModelSpec spec = ArchitectureDetector.detect(path, canon.tensors(), raw.metadata(), predictionOverride);
            ModelValidator.Result v = ModelValidator.validate(spec, canon.tensors());

            Map<String, TensorData> required = new LinkedHashMap<>();
            Map<Component, ModelReport.ComponentStats> stats = new EnumMap<>(Component.class);
            Set<String> used = new HashSet<>();
            for (Component c : Component.values()) {
                long params = 0;
                int count = 0;
                Map<DType, Long> byType = new TreeMap<>();
                for (TensorSpec s : c.layout(spec)) {
                    TensorData d = canon.tensors().get(s.name());
                    if (d == null || !s.sameShape(d.shape())) continue;
                    required.put(s.name(), d);
                    used.add(s.name());
                    params += d.elementCount();
                    count++;
                    byType.merge(d.dtype(), d.elementCount(), Long::sum);
                }
                stats.put(c, new ModelReport.ComponentStats(params, count, new TreeMap<>(byType)));
            }
            List<String> unused = new ArrayList<>(canon.unmapped());
            for (String name : canon.tensors().keySet()) if (!used.contains(name)) unused.add(name);
            ModelReport report = new ModelReport(raw.format(), stats, unused, v.missing(), v.wrongShape());
            TensorData alphas = raw.tensors().tensors().get(TrainingSchedule.ALPHAS_CUMPROD);
            DiffusionSchedule schedule = DiffusionSchedule.stableDiffusion();
            String scheduleSource = Checkpoint.DEFAULT_SCHEDULE;
            if (alphas != null) {
                String problem = TrainingSchedule.problem(alphas);
                if (problem == null) {
                    schedule = TrainingSchedule.read(alphas);
                    scheduleSource = "the file's alphas_cumprod (" + alphas.dtype().name().toLowerCase(Locale.ROOT) + ", " + schedule.trainSteps() + " steps)";
                } else {
                    scheduleSource = Checkpoint.DEFAULT_SCHEDULE + "; the file's alphas_cumprod is not used: " + problem;
                }
            }
            // The canonical dict takes over the raw one's arena: both views share the one mapping.
            return new Checkpoint(path, spec, new StateDict(required, raw.tensors().arena()), report, schedule, scheduleSource);
        } catch (RuntimeException e) {
            raw.close();
            throw e;
        }
    }

    /**
     * A file holding a UNet and nothing else (city96's ComfyUI-GGUF files; ComfyUI loads the text encoder and
     * VAE from other files) cannot make a model on its own: say so instead of naming a missing tensor.
     */
    private static void refuseUnetOnly(Path path, Map<String, TensorData> tensors) {
        boolean unet = false, other = false;
        for (String name : tensors.keySet()) {
            if (name.startsWith(NetworkLayout.UNET_PREFIX)) unet = true;
            else if (name.startsWith(NetworkLayout.VAE_PREFIX) || name.startsWith(NetworkLayout.TEXT_PREFIX)) other = true;
        }
        if (unet && !other) {
            throw new ModelFileException(path, "holds only a UNet (as city96's ComfyUI-GGUF files do); Ember needs the text encoder "
                    + "and the VAE in the same file");
        }
    }

    /** Reads the tensors under their stored names, choosing the reader by folder, extension or magic bytes. */
    public static RawCheckpoint readRaw(Path path) {
        if (Files.isDirectory(path)) return DiffusersReader.open(path);
        if (!Files.exists(path)) throw new ModelFileException(path, "no such file or folder");
        return switch (formatOf(path)) {
            case SAFETENSORS -> SafetensorsReader.open(path);
            case CKPT -> TorchCheckpointReader.open(path);
            case DIFFUSERS -> DiffusersReader.open(path);
            case GGUF -> GgufReader.open(path);
        };
    }

    /** The format of a file: a zip is a PyTorch checkpoint and a GGUF magic a gguf whatever its name; otherwise the extension decides. */
    static ModelFormat formatOf(Path file) {
        byte[] magic = new byte[4];
        int n;
        try (InputStream in = Files.newInputStream(file)) {
            n = in.readNBytes(magic, 0, 4);
        } catch (IOException e) {
            throw new ModelFileException(file, "cannot read: " + e.getMessage(), e);
        }
        if (n == 4 && magic[0] == 'P' && magic[1] == 'K' && magic[2] == 3 && magic[3] == 4) return ModelFormat.CKPT;
        if (n == 4 && magic[0] == 'G' && magic[1] == 'G' && magic[2] == 'U' && magic[3] == 'F') return ModelFormat.GGUF;
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        if (name.endsWith(".ckpt") || name.endsWith(".pt") || name.endsWith(".pth") || name.endsWith(".bin")) return ModelFormat.CKPT;
        if (name.endsWith(".gguf")) return ModelFormat.GGUF;
        return ModelFormat.SAFETENSORS;
    }
}
