package dev.ember.engine.model;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Synthetic LoRAs with real keys, for tests and benchmarks ({@code ember make-model --preset lora-tiny|lora-sd15|lora-sdxl|lora-sdxl-tiny}):
 * a LoCon-style LoRA of every linear layer of the UNet's transformer blocks (attention projections, feed-forward,
 * proj_in / proj_out) and every 3x3 convolution of its res blocks, and of every linear layer of the text encoder,
 * each with rank {@code rank} and {@code alpha}. Values are seeded ({@link SyntheticWeights}' generator): down ~
 * N(0, 1/fan_in), up ~ N(0, s^2) with s chosen so that an update at weight 1 is about a third of the layer's
 * weights in size: a visible change, still a working network.
 */
public final class SyntheticLora {
    /** How the keys are written. */
    public enum Format {
        /** kohya / A1111: {@code lora_unet_<diffusers module>.lora_down.weight}, {@code .lora_up.weight}, {@code .alpha}. */
        KOHYA,
        /** diffusers / PEFT: {@code unet.<module>.lora_A.weight}, {@code .lora_B.weight}, plus {@code .alpha} keys. */
        PEFT
    }

    /** Relative size of an update against the weights it adapts. */
    static final double UPDATE_SCALE = 0.3;

    private SyntheticLora() {}

    /**
     * The LoRA's tensors for a model of {@code spec}. SDXL files are written as kohya's SDXL trainer writes them:
     * UNet modules under sgm's (LDM) names, the encoders as {@code lora_te1_} and {@code lora_te2_}; PEFT uses
     * {@code text_encoder.} and {@code text_encoder_2.}.
     */
    public static List<TensorSource> tensors(ModelSpec spec, int rank, double alpha, long seed, DType dtype, Format format) {
        List<TensorSource> out = new ArrayList<>();
        int n = spec.unet().numResBlocks();
        boolean sdxl = spec.text2() != null;
        for (TensorSpec s : NetworkLayout.unet(spec.unet())) {
            String ldm = s.name().substring(NetworkLayout.UNET_PREFIX.length());
            if (s.kind() != TensorSpec.Kind.WEIGHT) continue;
            boolean transformer = ldm.contains(".transformer_blocks.") || ldm.contains(".proj_in.") || ldm.contains(".proj_out.");
            boolean conv3 = ldm.contains(".in_layers.2.") || ldm.contains(".out_layers.3.");
            if (!transformer && !conv3) continue;
            String module = format == Format.KOHYA && sdxl ? ldm : CanonicalNames.unetToDiffusers(ldm, n);
            module = module.substring(0, module.length() - ".weight".length());
            add(out, format == Format.KOHYA ? "lora_unet_" + module.replace('.', '_') : "unet." + module, s, rank, alpha, seed, dtype, format);
        }
        addText(out, NetworkLayout.textEncoder(spec.text()), NetworkLayout.TEXT_ROOT, sdxl ? "lora_te1_" : "lora_te_", "text_encoder.",
                rank, alpha, seed, dtype, format);
        if (sdxl) {
            addText(out, NetworkLayout.textEncoder2(spec.text2()), NetworkLayout.TEXT2_ROOT, "lora_te2_", "text_encoder_2.", rank, alpha, seed,
                    dtype, format);
        }
        return out;
    }

    private static void addText(List<TensorSource> out, List<TensorSpec> specs, String root, String kohya, String peft, int rank, double alpha,
                                long seed, DType dtype, Format format) {
        for (TensorSpec s : specs) {
            if (s.kind() != TensorSpec.Kind.WEIGHT || s.shape().length != 2 || !s.name().startsWith(root + "text_model.")
                    || s.name().contains(".embeddings.")) continue;
            String module = s.name().substring(root.length(), s.name().length() - ".weight".length());
            add(out, format == Format.KOHYA ? kohya + module.replace('.', '_') : peft + module, s, rank, alpha, seed, dtype, format);
        }
    }

    private static void add(List<TensorSource> out, String key, TensorSpec target, int rank, double alpha, long seed, DType dtype, Format format) {
        long[] w = target.shape();
        long in = target.fanIn();
        long[] downShape = w.length == 4 ? new long[] {rank, w[1], w[2], w[3]} : new long[] {rank, w[1]};
        long[] upShape = w.length == 4 ? new long[] {w[0], rank, 1, 1} : new long[] {w[0], rank};
        // An update element is (alpha / r) * (sum of r products up * down): standard deviation (alpha / r) * sqrt(r) * s / sqrt(in);
        // s = UPDATE_SCALE * sqrt(r) / alpha makes it UPDATE_SCALE / sqrt(in), that share of a weight's N(0, 1/in).
        double s = UPDATE_SCALE * Math.sqrt(rank) / alpha;
        String down = format == Format.KOHYA ? key + ".lora_down.weight" : key + ".lora_A.weight";
        String up = format == Format.KOHYA ? key + ".lora_up.weight" : key + ".lora_B.weight";
        out.add(gaussian(down, downShape, 1.0 / Math.sqrt(in), seed, dtype));
        out.add(gaussian(up, upShape, s, seed, dtype));
        out.add(new TensorSource(key + ".alpha", dtype, new long[0], seg -> SyntheticWeights.write(seg, 0, dtype, (float) alpha)));
    }

    private static TensorSource gaussian(String name, long[] shape, double std, long seed, DType dtype) {
        return new TensorSource(name, dtype, shape, seg -> {
            SyntheticWeights.Gaussian g = new SyntheticWeights.Gaussian(SyntheticWeights.streamSeed(seed, name));
            long count = TensorData.elementCount(shape);
            for (long i = 0; i < count; i++) SyntheticWeights.write(seg, i, dtype, (float) (std * g.next()));
        });
    }

    /** Writes a LoRA for {@code spec} as safetensors with kohya's descriptive metadata. */
    public static void write(Path file, ModelSpec spec, int rank, double alpha, long seed, DType dtype, Format format) {
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("ss_network_module", "networks.lora");
        meta.put("ss_network_dim", Integer.toString(rank));
        meta.put("ss_network_alpha", Double.toString(alpha));
        meta.put("ss_base_model_version", switch (spec.architecture()) {
            case SD2 -> "sd_v2";
            case SDXL -> "sdxl_base_v1-0";
            default -> "sd_v1";
        });
        meta.put("ember.synthetic", "seed " + seed);
        SafetensorsWriter.write(file, meta, tensors(spec, rank, alpha, seed, dtype, format));
    }

    /** Writes a TAESD with the real (diffusers AutoencoderTiny) names and seeded values: both halves. */
    public static void writeTaesd(Path file, DType dtype, long seed) {
        List<TensorSource> tensors = new ArrayList<>();
        for (TensorSpec s : TaesdLayout.all(TaesdConfig.STANDARD)) tensors.add(TensorSource.synthetic(s, seed, dtype));
        SafetensorsWriter.write(file, Map.of("ember.synthetic", "taesd, seed " + seed), tensors);
    }
}
