package dev.ember.engine.model;

import dev.ember.engine.ModelFileException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Opens a VAE published on its own (vae-ft-mse-840000-ema-pruned, sdxl-vae-fp16-fix, ...) to use in place of a
 * checkpoint's: a single file with LDM names (bare {@code encoder.*}, {@code decoder.*}, {@code quant_conv.*},
 * {@code post_quant_conv.*}, or under {@code first_stage_model.}), or with diffusers {@code AutoencoderKL} names,
 * or a diffusers {@code vae/} folder. Other tensors (EMA copies, a training loss's discriminator) are left out.
 * The result holds the canonical names ({@code first_stage_model.*}), checked against the model's VAE config.
 */
public final class VaeFiles {
    private static final Pattern DIFFUSERS_LEVEL = Pattern.compile("encoder\\.down_blocks\\.(\\d+)\\..*");

    private VaeFiles() {}

    /** A separate VAE's canonical tensors; closing it unmaps the file. */
    public record Weights(Path path, VaeConfig config, StateDict tensors) implements AutoCloseable {
        @Override
        public void close() {
            tensors.close();
        }
    }

    /**
     * Opens a VAE file or diffusers VAE folder for a model whose VAE is {@code model}.
     *
     * @throws ModelFileException when the file is unreadable, incomplete, or a VAE of another shape (latent channels,
     *     downscale) than the model's
     */
    public static Weights open(Path path, VaeConfig model) {
        Path file = path;
        if (Files.isDirectory(path)) {
            file = null;
            for (String name : new String[] {"diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors", "diffusion_pytorch_model.bin"}) {
                if (file == null && Files.isRegularFile(path.resolve(name))) file = path.resolve(name);
            }
            if (file == null) throw new ModelFileException(path, "folder has no diffusion_pytorch_model.safetensors: not a diffusers VAE");
        }
        RawCheckpoint raw = ModelFiles.readRaw(file);
        try {
            Map<String, TensorData> canonical = canonical(raw.tensors().tensors());
            if (!canonical.containsKey(NetworkLayout.VAE_PREFIX + "encoder.conv_in.weight")
                    && !canonical.containsKey(NetworkLayout.VAE_PREFIX + "decoder.conv_in.weight")) {
                throw new ModelFileException(path, "not a VAE: no encoder.conv_in / decoder.conv_in weights (LDM or diffusers names)");
            }
            Map<String, String> meta = new LinkedHashMap<>(raw.metadata());
            meta.put(ModelMetadata.VAE_SCALE_FACTOR, Double.toString(model.scaleFactor())); // the model's latent space decides
            VaeConfig config = ArchitectureDetector.detectVae(path, canonical, meta);
            if (config.latentChannels() != model.latentChannels() || config.downscale() != model.downscale()
                    || config.imageChannels() != model.imageChannels()) {
                throw new ModelFileException(path, "this VAE has " + config.latentChannels() + " latent channels and a " + config.downscale()
                        + "x downscale; the model's has " + model.latentChannels() + " and " + model.downscale() + "x");
            }
            Map<String, TensorData> required = new LinkedHashMap<>();
            List<String> missing = new ArrayList<>();
            for (TensorSpec s : NetworkLayout.vae(config)) {
                TensorData t = canonical.get(s.name());
                if (t == null || !s.sameShape(t.shape())) missing.add(s.name() + (t == null ? "" : " (shape " + java.util.Arrays.toString(t.shape()) + ")"));
                else required.put(s.name(), t);
            }
            if (!missing.isEmpty()) {
                throw new ModelFileException(path, "incomplete VAE: " + missing.size() + " tensors missing or misshapen, e.g. " + missing.getFirst());
            }
            return new Weights(path, config, new StateDict(required, raw.tensors().arena()));
        } catch (RuntimeException e) {
            raw.close();
            throw e;
        }
    }

    /** Canonical VAE names of a file's tensors (only the VAE's; everything else is dropped). */
    static Map<String, TensorData> canonical(Map<String, TensorData> raw) {
        Map<String, TensorData> out = new LinkedHashMap<>();
        TreeSet<Integer> levels = new TreeSet<>();
        for (String k : raw.keySet()) {
            Matcher m = DIFFUSERS_LEVEL.matcher(k);
            if (m.matches()) levels.add(Integer.parseInt(m.group(1)));
        }
        boolean diffusers = !levels.isEmpty() || raw.keySet().stream().anyMatch(k -> k.startsWith("decoder.up_blocks."));
        for (var e : raw.entrySet()) {
            String k = e.getKey();
            TensorData t = e.getValue();
            String ldm;
            if (k.startsWith(NetworkLayout.VAE_PREFIX)) ldm = k.substring(NetworkLayout.VAE_PREFIX.length());
            else if (diffusers) ldm = DiffusersNames.vaeToLdm(k, levels.isEmpty() ? 4 : levels.size());
            else ldm = k;
            if (ldm == null || !(ldm.startsWith("encoder.") || ldm.startsWith("decoder.") || ldm.startsWith("quant_conv.")
                    || ldm.startsWith("post_quant_conv."))) continue;
            if (ldm.contains(".mid.attn_1.") && ldm.endsWith(".weight") && t.rank() == 2) {
                t = t.reshaped(t.dim(0), t.dim(1), 1, 1); // a linear in diffusers (and some LDM exports), a 1x1 conv here
            }
            String name = NetworkLayout.VAE_PREFIX + ldm;
            out.putIfAbsent(name, t.renamed(name));
        }
        return out;
    }
}
