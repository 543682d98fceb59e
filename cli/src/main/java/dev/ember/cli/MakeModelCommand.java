package dev.ember.cli;

import dev.ember.engine.model.DType;
import dev.ember.engine.model.ModelFormat;
import dev.ember.engine.model.ModelPreset;
import dev.ember.engine.model.SyntheticCheckpoint;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ember make-model}: writes a synthetic checkpoint with real names and shapes and seeded values. */
@Command(name = "make-model", mixinStandardHelpOptions = true,
        description = "Write a synthetic checkpoint (real tensor names and shapes, seeded values).")
final class MakeModelCommand implements Callable<Integer> {
    @Option(names = "--preset", required = true, description = "tiny, sd15, sd21, sdxl or sdxl-tiny")
    String preset;

    @Option(names = "--out", required = true, description = "Output file (or folder for --format diffusers).")
    Path out;

    @Option(names = "--dtype", defaultValue = "f32", description = "f32, f16 or bf16 (default: ${DEFAULT-VALUE})")
    String dtype;

    @Option(names = "--seed", defaultValue = "0", description = "Seed of the values (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--format", defaultValue = "safetensors", description = "safetensors, ckpt or diffusers (default: ${DEFAULT-VALUE})")
    String format;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        ModelPreset p;
        DType t;
        ModelFormat f;
        try {
            p = ModelPreset.parse(preset);
            t = DType.parse(dtype);
            f = ModelFormat.parse(format);
        } catch (IllegalArgumentException e) {
            throw new EmberCommand.UsageException(e.getMessage());
        }
        SyntheticCheckpoint.write(p, out, f, t, seed);
        spec.commandLine().getOut().println("wrote " + out + " (" + p.label() + ", " + f.label() + ", " + t.name().toLowerCase(java.util.Locale.ROOT) + ", seed " + seed + ")");
        return 0;
    }
}
