package dev.ember.engine.model;

import dev.ember.engine.ModelFileException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Opens TAESD weights as they are published, unchanged: diffusers {@code AutoencoderTiny} files or folders
 * ({@code encoder.layers.<i>.*}, {@code decoder.layers.<i>.*}: one or both halves), and madebyollin's
 * {@code taesd_decoder} / {@code taesd_encoder} ({@code .safetensors} or {@code .pth}; likewise
 * {@code taesdxl_*}), whose keys are bare layer numbers ({@code 1.weight}), optionally under a
 * {@code taesd_decoder.} / {@code taesd_encoder.} prefix, with the decoder counted from its input clamp
 * (one higher than diffusers). The result holds canonical names ({@link TaesdLayout}) and what halves
 * the file has; every tensor of those halves is checked for presence and shape.
 */
public final class TaesdFiles {
    private static final Pattern BARE = Pattern.compile("(\\d+)\\.(.+)");

    private TaesdFiles() {}

    /** TAESD weights under canonical names; closing it unmaps the file. */
    public record Weights(Path path, TaesdConfig config, StateDict tensors, boolean hasEncoder, boolean hasDecoder) implements AutoCloseable {
        @Override
        public void close() {
            tensors.close();
        }
    }

    /**
     * Opens a TAESD file, or a diffusers folder holding {@code diffusion_pytorch_model.safetensors}.
     *
     * @throws ModelFileException when the file is unreadable or is not a TAESD (naming what is missing)
     */
    public static Weights open(Path path) {
        Path file = path;
        if (Files.isDirectory(path)) {
            file = null;
            for (String name : new String[] {"diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors",
                    "diffusion_pytorch_model.bin"}) {
                if (Files.isRegularFile(path.resolve(name))) file = path.resolve(name);
            }
            if (file == null) throw new ModelFileException(path, "folder has no diffusion_pytorch_model.safetensors: not a TAESD");
        }
        RawCheckpoint raw = ModelFiles.readRaw(file);
        try {
            return canonical(path, raw);
        } catch (RuntimeException e) {
            raw.close();
            throw e;
        }
    }

    private static Weights canonical(Path path, RawCheckpoint raw) {
        Map<String, TensorData> in = raw.tensors().tensors();
        Map<String, TensorData> out = new LinkedHashMap<>();
        boolean diffusers = in.keySet().stream().anyMatch(k -> k.startsWith(TaesdLayout.ENCODER_PREFIX) || k.startsWith(TaesdLayout.DECODER_PREFIX));
        if (diffusers) {
            in.forEach((k, t) -> {
                if (k.startsWith(TaesdLayout.ENCODER_PREFIX) || k.startsWith(TaesdLayout.DECODER_PREFIX)) out.put(k, t);
            });
        } else {
            for (var e : in.entrySet()) {
                String key = e.getKey();
                Boolean decoder = null;
                if (key.startsWith("taesd_decoder.")) {
                    decoder = true;
                    key = key.substring("taesd_decoder.".length());
                } else if (key.startsWith("taesd_encoder.")) {
                    decoder = false;
                    key = key.substring("taesd_encoder.".length());
                }
                Matcher m = BARE.matcher(key);
                if (!m.matches()) continue;
                // A bare file is a decoder when it has layer 1's conv but no layer 0 (the decoder's 0 is its clamp).
                boolean isDecoder = decoder != null ? decoder : !in.containsKey("0.weight") && in.containsKey("1.weight");
                int layer = Integer.parseInt(m.group(1)) - (isDecoder ? 1 : 0);
                if (layer < 0) continue;
                String name = (isDecoder ? TaesdLayout.DECODER_PREFIX : TaesdLayout.ENCODER_PREFIX) + layer + "." + m.group(2);
                if (out.putIfAbsent(name, e.getValue().renamed(name)) != null) {
                    throw new ModelFileException(path, "tensor " + name + " appears twice");
                }
            }
        }
        boolean hasEncoder = out.containsKey(TaesdLayout.ENCODER_PREFIX + "0.weight");
        boolean hasDecoder = out.containsKey(TaesdLayout.DECODER_PREFIX + "0.weight");
        if (!hasEncoder && !hasDecoder) {
            throw new ModelFileException(path, "not a TAESD file: no encoder.layers.0 / decoder.layers.0 (or madebyollin's 0. / 1.) weights");
        }
        TaesdConfig config = detect(path, out, hasEncoder, hasDecoder);
        List<TensorSpec> specs = new ArrayList<>();
        if (hasEncoder) specs.addAll(TaesdLayout.encoder(config));
        if (hasDecoder) specs.addAll(TaesdLayout.decoder(config));
        Map<String, TensorData> required = new LinkedHashMap<>();
        for (TensorSpec s : specs) {
            TensorData t = out.get(s.name());
            if (t == null) throw new ModelFileException(path, "not a complete TAESD: missing " + s.name());
            if (!s.sameShape(t.shape())) {
                throw new ModelFileException(path, "TAESD tensor " + s.name() + " has shape " + java.util.Arrays.toString(t.shape())
                        + ", expected " + java.util.Arrays.toString(s.shape()));
            }
            if (!t.dtype().isFloat() || t.dtype() == DType.F64) {
                throw new ModelFileException(path, "TAESD tensor " + s.name() + " is " + t.dtype() + ", not f32, f16 or bf16");
            }
            required.put(s.name(), t);
        }
        return new Weights(path, config, new StateDict(required, raw.tensors().arena()), hasEncoder, hasDecoder);
    }

    private static TaesdConfig detect(Path path, Map<String, TensorData> t, boolean hasEncoder, boolean hasDecoder) {
        TensorData first = t.get((hasDecoder ? TaesdLayout.DECODER_PREFIX : TaesdLayout.ENCODER_PREFIX) + "0.weight");
        if (first.rank() != 4) throw new ModelFileException(path, "TAESD tensor " + first.name() + " is not a convolution kernel");
        int channels = (int) first.dim(0);
        int latent = hasDecoder ? (int) first.dim(1) : dim0(path, t, TaesdLayout.ENCODER_PREFIX + TaesdLayout.ENCODER_LAST + ".weight");
        int image = hasEncoder ? (int) t.get(TaesdLayout.ENCODER_PREFIX + "0.weight").dim(1)
                : dim0(path, t, TaesdLayout.DECODER_PREFIX + TaesdLayout.DECODER_LAST + ".weight");
        return new TaesdConfig(image, latent, channels);
    }

    private static int dim0(Path path, Map<String, TensorData> t, String name) {
        TensorData d = t.get(name);
        if (d == null || d.rank() != 4) throw new ModelFileException(path, "not a complete TAESD: missing " + name);
        return (int) d.dim(0);
    }
}
