package dev.ember.cli;

import dev.ember.engine.ModelOptions;
import dev.ember.engine.StableDiffusion;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import dev.ember.engine.metadata.PngMetadata;
import dev.ember.engine.metadata.AddOnsRecord;
import dev.ember.engine.metadata.ImageParameters;

/**
 * The part txt2img and img2img share once their parameters are resolved: check the request, load the
 * model, generate, write, report (lines for people, or {@code --json}).
 */
final class GenerationSession {
    private GenerationSession() {}

    static int run(PrintWriter out, PrintWriter err, GenerationOptions options, ImageParameters parameters, InitImage init,
                   List<String> notices)
            throws IOException {
        // Checked before the model loads: a bad value fails in milliseconds, not after loading gigabytes.
        parameters.toRequest(init == null ? null : init.image());
        ModelOptions modelOptions = parameters.toModelOptions().withWeightsInPlace(!options.noWeightsInPlace);
        Generator.Outputs outputs = new Generator.Outputs(options.out, options.intermediates, options.intermediatesEvery, options.previews(),
                options.latents);
        if (outputs.every() < 1) throw new EmberCommand.UsageException("--intermediates-every must be at least 1, got " + outputs.every());
        if (outputs.intermediates() != null && outputs.previews() == Previews.TAESD && modelOptions.addOns().taesd() == null) {
            throw new EmberCommand.UsageException("--preview taesd needs TAESD weights: --taesd FILE");
        }
        notices.forEach(err::println);
        err.flush();

        long start = System.nanoTime();
        try (StableDiffusion sd = StableDiffusion.load(parameters.modelPath(), modelOptions)) {
            long loaded = System.nanoTime();
            ImageParameters used = parameters.withFlashAttention(sd.usesFlashAttention())
                    .withAddOns(AddOnsRecord.of(parameters.toRequest(init == null ? null : init.image()), sd));
            Generator.Outcome outcome = Generator.run(sd, used, init, outputs, err, ProgressReporter.wanted() && !options.json);
            long done = System.nanoTime();
            if (options.json) out.println(PngMetadata.toJson(report(outcome, (loaded - start) / 1e9, (done - loaded) / 1e9)));
            else print(out, outcome, (done - loaded) / 1e9);
        }
        out.flush();
        return 0;
    }

    static void print(PrintWriter out, Generator.Outcome outcome, double seconds) {
        for (Generator.Written w : outcome.images()) {
            out.println("wrote " + w.file() + " (seed " + w.seed() + ")");
            if (!w.intermediates().isEmpty()) {
                Path strip = w.intermediates().getLast();
                out.println("      " + (w.intermediates().size() - 1) + " step previews and the strip " + strip);
            }
            if (!w.latents().isEmpty()) {
                out.println("      " + w.latents().size() + " step latents in " + w.latents().getFirst().getParent());
            }
        }
        out.printf(Locale.ROOT, "%d image(s), %d steps each, %.1f s%n", outcome.images().size(), outcome.result().stepsRun(), seconds);
    }

    /** The {@code --json} document. */
    static Map<String, Object> report(Generator.Outcome outcome, double loadSeconds, double generateSeconds) {
        List<Map<String, Object>> images = new ArrayList<>();
        for (Generator.Written w : outcome.images()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("file", w.file().toString());
            m.put("seed", w.seed());
            m.put("index", w.index());
            m.put("intermediates", w.intermediates().stream().map(Path::toString).toList());
            m.put("latents", w.latents().stream().map(Path::toString).toList());
            images.add(m);
        }
        int steps = outcome.result().stepsRun() * outcome.images().size();
        Map<String, Object> timings = new LinkedHashMap<>();
        timings.put("loadSeconds", loadSeconds);
        timings.put("generateSeconds", generateSeconds);
        timings.put("engineSeconds", outcome.result().elapsed().toNanos() / 1e9);
        timings.put("stepsRun", outcome.result().stepsRun());
        timings.put("secondsPerStep", steps == 0 ? null : outcome.result().elapsed().toNanos() / 1e9 / steps);
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("images", images);
        doc.put("parameters", outcome.parameters());
        doc.put("timings", timings);
        return doc;
    }
}
