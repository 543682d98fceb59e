package dev.ember.cli;

import dev.ember.engine.GenerationRequest;
import dev.ember.engine.ModelFileChangedException;
import dev.ember.engine.ModelFileException;
import dev.ember.engine.ModelOptions;
import dev.ember.engine.StableDiffusion;
import dev.ember.engine.metadata.AddOnsRecord;
import dev.ember.engine.metadata.ImageParameters;
import dev.ember.engine.metadata.PngMetadata;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The part txt2img and img2img share once their parameters are resolved: check the request and the
 * output folders, load the model, generate (writing each image as it is done), report (lines for
 * people, or {@code --json}).
 */
final class GenerationSession {
    private GenerationSession() {}

    static int run(PrintWriter out, PrintWriter err, GenerationOptions options, ImageParameters parameters, InitImage init,
                   List<String> notices)
            throws IOException {
        // Checked before the model loads: a bad value fails in milliseconds, not after loading gigabytes.
        GenerationRequest request = InitImage.request(parameters, init);
        ModelOptions modelOptions = parameters.toModelOptions().withWeightsInPlace(!options.noWeightsInPlace);
        Generator.Outputs outputs = new Generator.Outputs(options.out, options.intermediates, options.intermediatesEvery, options.previews(),
                options.latents);
        if (outputs.every() < 1) throw new EmberCommand.UsageException("--intermediates-every must be at least 1, got " + outputs.every());
        if (outputs.intermediates() != null && outputs.previews() == Previews.TAESD && modelOptions.addOns().taesd() == null) {
            throw new EmberCommand.UsageException("--preview taesd needs TAESD weights: --taesd FILE");
        }
        FileErrors.checkWritableFolder(options.out, "--out");
        if (options.intermediates != null) FileErrors.checkWritableFolder(options.intermediates, "--intermediates");
        if (options.latents != null) FileErrors.checkWritableFolder(options.latents, "--latents");
        notices.forEach(n -> err.println(Terminal.safe(n)));
        err.flush();

        long start = System.nanoTime();
        try (StableDiffusion sd = StableDiffusion.load(parameters.modelPath(), modelOptions)) {
            long loaded = System.nanoTime();
            // The add-ons as this model resolves them (LoRA tags to files, embeddings found, hashes): checked before any step.
            ImageParameters used = parameters.asRunBy(sd).withAddOns(AddOnsRecord.of(request, sd));
            Map<Long, Path> skipped = options.skipExisting ? ExistingImages.find(options.out, used, request) : Map.of();
            skipped.forEach((seed, file) -> err.println("ember: skipping seed " + seed + ": " + Terminal.safe(file.toString())
                    + " is already that image (--skip-existing)"));
            err.flush();
            List<Generator.Written> written = new ArrayList<>();
            Generator.Outcome outcome;
            try {
                outcome = Generator.run(sd, used, init, outputs, err, ProgressReporter.wanted() && !options.json, skipped.keySet(), w -> {
                    written.add(w);
                    if (!options.json) printWritten(out, w);
                });
            } catch (ModelFileChangedException e) {
                int missing = request.images() - skipped.size() - written.size();
                throw new ModelFileException(e.path(), "the model file changed while Ember was using it: " + e.change() + "; "
                        + written.size() + " image(s) made before the change are written, the other " + missing
                        + " were not made; --no-weights-in-place keeps a private copy of the model that changes to the file cannot affect");
            }
            long done = System.nanoTime();
            if (options.json) out.println(PngMetadata.toJson(report(outcome, skipped, (loaded - start) / 1e9, (done - loaded) / 1e9)));
            else summary(out, outcome, skipped.size(), (done - loaded) / 1e9);
        }
        out.flush();
        return 0;
    }

    static void printWritten(PrintWriter out, Generator.Written w) {
        out.println("wrote " + Terminal.safe(w.file().toString()) + " (seed " + w.seed() + ")");
        if (!w.intermediates().isEmpty()) {
            Path strip = w.intermediates().getLast();
            out.println("      " + (w.intermediates().size() - 1) + " step previews and the strip " + Terminal.safe(strip.toString()));
        }
        if (!w.latents().isEmpty()) {
            out.println("      " + w.latents().size() + " step latents in " + Terminal.safe(w.latents().getFirst().getParent().toString()));
        }
        out.flush();
    }

    static void summary(PrintWriter out, Generator.Outcome outcome, int skipped, double seconds) {
        out.printf(Locale.ROOT, "%d image(s)%s, %d steps each, %.1f s%n", outcome.images().size(),
                skipped == 0 ? "" : " (" + skipped + " skipped: already there)", outcome.stepsRun(), seconds);
    }

    /** The {@code --json} document. */
    static Map<String, Object> report(Generator.Outcome outcome, Map<Long, Path> skipped, double loadSeconds, double generateSeconds) {
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
        List<Map<String, Object>> existing = new ArrayList<>();
        skipped.forEach((seed, file) -> existing.add(Map.of("file", file.toString(), "seed", seed)));
        int steps = outcome.stepsRun() * outcome.images().size();
        Map<String, Object> timings = new LinkedHashMap<>();
        timings.put("loadSeconds", loadSeconds);
        timings.put("generateSeconds", generateSeconds);
        timings.put("engineSeconds", outcome.elapsed().toNanos() / 1e9);
        timings.put("stepsRun", outcome.stepsRun());
        timings.put("secondsPerStep", steps == 0 ? null : outcome.elapsed().toNanos() / 1e9 / steps);
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("images", images);
        doc.put("skipped", existing);
        doc.put("parameters", outcome.parameters());
        doc.put("timings", timings);
        return doc;
    }
}
