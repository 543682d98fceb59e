package dev.ember.cli;

import dev.ember.engine.model.DType;
import dev.ember.engine.model.ModelFormat;
import dev.ember.engine.model.ModelPreset;
import dev.ember.engine.model.SyntheticCheckpoint;
import dev.ember.engine.model.SyntheticWeights;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ember make-model}: writes a synthetic checkpoint with real names and shapes and seeded values. */
@Command(name = "make-model", mixinStandardHelpOptions = true,
        description = "Write a synthetic checkpoint (real tensor names and shapes, seeded values).")
final class MakeModelCommand implements Callable<Integer> {
    @Option(names = "--preset", required = true, description = "tiny, sd15 or sd21")
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

    @Override
    public Integer call() {
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
}
