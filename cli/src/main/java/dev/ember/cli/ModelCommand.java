package dev.ember.cli;

import dev.ember.engine.ModelFileException;
import dev.ember.engine.model.Checkpoint;
import dev.ember.engine.model.Component;
import dev.ember.engine.model.DType;
import dev.ember.engine.model.ModelFiles;
import dev.ember.engine.model.ModelReport;
import dev.ember.engine.model.ModelSpec;
import dev.ember.engine.sampling.Prediction;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code ember model}: commands about model files. */
@Command(name = "model", mixinStandardHelpOptions = true, description = "Inspect model files.",
        subcommands = {ModelCommand.Info.class})
final class ModelCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getOut());
        return 0;
    }

    /** {@code ember model info FILE|DIR}: format, architecture, prediction, per-network parameters, dtypes, unused and missing tensors. */
    @Command(name = "info", mixinStandardHelpOptions = true,
            description = "Show what a checkpoint (safetensors, ckpt, gguf) or diffusers folder holds.")
    static final class Info implements Callable<Integer> {
        @Parameters(paramLabel = "FILE|DIR", description = "Checkpoint file or diffusers folder.")
        Path path;

        @Option(names = "--prediction", description = "Override the prediction type: eps or v.")
        String prediction;

        @Option(names = "--all-unused", description = "List every unused tensor, not only the first ones.")
        boolean allUnused;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            Prediction override;
            try {
                override = prediction == null ? null : Prediction.parse(prediction);
            } catch (IllegalArgumentException e) {
                throw new EmberCommand.UsageException(e.getMessage());
            }
            PrintWriter out = spec.commandLine().getOut();
            try (Checkpoint c = ModelFiles.inspect(path, override)) {
                ModelSpec s = c.spec();
                ModelReport r = c.report();
                out.println("path:         " + path);
                out.println("format:       " + r.format().label());
                out.println("architecture: " + s.architecture().label());
                out.println("prediction:   " + s.prediction().label() + " (" + s.predictionSource() + ")");
                long total = 0;
                for (Component comp : Component.values()) {
                    if (comp.layout(s).isEmpty()) continue; // SD 1.x/2.x have no second text encoder
                    ModelReport.ComponentStats st = r.components().get(comp);
                    total += st.parameters();
                    out.printf(Locale.ROOT, "%-13s %,d parameters in %d tensors (%s)%n", comp.label() + ":", st.parameters(), st.tensors(), dtypes(st.parametersByDtype()));
                }
                out.printf(Locale.ROOT, "%-13s %,d parameters%n", "total:", total);
                out.println("text config:  " + s.text());
                if (s.text2() != null) out.println("text2 config: " + s.text2());
                out.println("unet config:  " + s.unet());
                out.println("vae config:   " + s.vae());
                out.println("schedule:     " + c.scheduleSource());
                out.println("unused:       " + list(r.unused(), allUnused ? Integer.MAX_VALUE : 10));
                out.println("missing:      " + list(r.missing(), 10));
                if (!r.wrongShape().isEmpty()) out.println("wrong shape:  " + list(r.wrongShape(), 10));
                out.flush();
                if (!r.complete()) {
                    throw new ModelFileException(path, r.missing().isEmpty()
                            ? "wrong shape for the detected architecture (" + r.wrongShape().size() + " tensors)"
                            : "missing required tensors (" + r.missing().size() + ")");
                }
            }
            return 0;
        }

        private static String dtypes(Map<DType, Long> byType) {
            if (byType.isEmpty()) return "none";
            return byType.entrySet().stream().map(e -> e.getKey().name().toLowerCase(Locale.ROOT)
                    + (byType.size() > 1 ? String.format(Locale.ROOT, " %,d", e.getValue()) : "")).collect(Collectors.joining(", "));
        }

        private static String list(List<String> items, int max) {
            if (items.isEmpty()) return "none";
            String head = String.join(", ", items.subList(0, Math.min(max, items.size())));
            return items.size() + " (" + head + (items.size() > max ? ", ..." : "") + ")";
        }
    }
}
