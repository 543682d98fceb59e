package dev.ember.cli;

import dev.ember.engine.model.DType;
import dev.ember.engine.model.ModelFormat;
import dev.ember.engine.model.ModelPreset;
import dev.ember.engine.model.SyntheticCheckpoint;
import dev.ember.engine.model.SyntheticWeights;
import dev.ember.engine.model.SyntheticLora;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ember make-model}: writes a synthetic checkpoint with real names and shapes and seeded values. */
@Command(name = "make-model", mixinStandardHelpOptions = true,
        description = "Write a synthetic checkpoint (real tensor names and shapes, seeded values).")
final class MakeModelCommand implements Callable<Integer> {
    @Option(names = "--preset", required = true,
            description = "tiny, sd15, sd21, sdxl or sdxl-tiny (checkpoints); tiny-inpaint or sd15-inpaint (inpainting models: 9 UNet input "
                    + "channels); lora-tiny, lora-sd15, lora-sdxl-tiny or lora-sdxl (a kohya LoRA for that model: every "
                    + "transformer linear layer, every res-block 3x3 convolution and every text-encoder linear layer); embedding-tiny, "
                    + "embedding-sd15, embedding-sdxl-tiny or embedding-sdxl (a 2-vector textual-inversion embedding, A1111's layout); "
                    + "taesd (both halves, diffusers names)")
    String preset;

    @Option(names = "--out", required = true, description = "Output file (or folder for --format diffusers).")
    Path out;

    @Option(names = "--dtype", defaultValue = "f32", description = "f32, f16 or bf16 (default: ${DEFAULT-VALUE})")
    String dtype;

    @Option(names = "--seed", defaultValue = "0", description = "Seed of the values (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--format", defaultValue = "safetensors", description = "safetensors, ckpt, diffusers or gguf (default: ${DEFAULT-VALUE})")
    String format;

    @Option(names = "--norms", defaultValue = "random",
            description = "Norm layers' scale and shift: random (N(1, 0.25^2) and N(0, 0.25^2), so every norm shows in the output) "
                    + "or identity (1 and 0, as PyTorch initialises them) (default: ${DEFAULT-VALUE})")
    String norms;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--rank", defaultValue = "0", description = "LoRA presets: the rank (default: 4 for the tiny models' LoRAs, 32 for the full-size ones).")
    int rank;

    /** The LoRA presets and the model each is for. */
    private static final java.util.Map<String, ModelPreset> LORA_BASES = java.util.Map.of("lora-tiny", ModelPreset.TINY, "lora-sd15", ModelPreset.SD15,
            "lora-sdxl-tiny", ModelPreset.SDXL_TINY, "lora-sdxl", ModelPreset.SDXL);

    @Override
    public Integer call() {
        String addOn = preset.toLowerCase(java.util.Locale.ROOT);
        if (LORA_BASES.containsKey(addOn) || SyntheticEmbedding.BASES.containsKey(addOn) || addOn.equals("taesd")) return addOn(addOn);
        ModelPreset p;
        DType t;
        ModelFormat f;
        SyntheticWeights.Norms n;
        try {
            p = ModelPreset.parse(preset);
            t = DType.parse(dtype);
            f = ModelFormat.parse(format);
            n = SyntheticWeights.Norms.parse(norms);
        } catch (IllegalArgumentException e) {
            throw new EmberCommand.UsageException(e.getMessage());
        }
        SyntheticCheckpoint.write(p, out, f, t, seed, n);
        spec.commandLine().getOut().println("wrote " + out + " (" + p.label() + ", " + f.label() + ", " + t.name().toLowerCase(java.util.Locale.ROOT) + ", seed " + seed + ")");
        return 0;
    }

    /** The add-on presets: synthetic LoRAs (kohya keys, alpha = rank / 2), embeddings and TAESD, always safetensors. */
    private Integer addOn(String name) {
        DType t;
        try {
            t = DType.parse(dtype);
        } catch (IllegalArgumentException e) {
            throw new EmberCommand.UsageException(e.getMessage());
        }
        if (!format.equals("safetensors")) throw new EmberCommand.UsageException("the " + name + " preset is written as safetensors only");
        if (rank < 0 || rank > 1024) throw new EmberCommand.UsageException("--rank must be between 1 and 1024, got " + rank);
        String what;
        if (name.equals("taesd")) {
            SyntheticLora.writeTaesd(out, t, seed);
            what = "TAESD, both halves";
        } else if (SyntheticEmbedding.BASES.containsKey(name)) {
            ModelPreset base = SyntheticEmbedding.BASES.get(name);
            SyntheticEmbedding.write(out, base, 2, seed);
            what = "embedding for " + base.label() + ", 2 vectors";
            t = DType.F32;
        } else {
            ModelPreset base = LORA_BASES.get(name);
            int r = rank > 0 ? rank : base == ModelPreset.TINY || base == ModelPreset.SDXL_TINY ? 4 : 32;
            SyntheticLora.write(out, base.spec(), r, r / 2.0, seed, t, SyntheticLora.Format.KOHYA);
            what = "LoRA for " + base.label() + ", rank " + r + ", alpha " + r / 2.0;
        }
        spec.commandLine().getOut().println("wrote " + out + " (" + what + ", " + t.name().toLowerCase(java.util.Locale.ROOT) + ", seed " + seed + ")");
        return 0;
    }
}
