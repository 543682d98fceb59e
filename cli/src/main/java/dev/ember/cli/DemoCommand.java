package dev.ember.cli;

import dev.ember.engine.Ember;
import dev.ember.engine.ModelOptions;
import dev.ember.engine.StableDiffusion;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import dev.ember.engine.metadata.ImageParameters;
import dev.ember.engine.TinyModel;

/**
 * {@code ember demo}: the README's main job, in the shape of InvokeAI's img2img guide. One txt2img
 * picture, then two img2img runs from it at 10 steps with strength 0.7 and 0.4 (so 7 and 4 steps run),
 * each with its per-step previews and strip. Uses the tiny synthetic model, so it runs anywhere in
 * seconds (the pictures are noise; the shapes of the runs are the point).
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Run txt2img, then img2img from its picture at strength 0.7 and 0.4, with step previews and strips (tiny model).")
final class DemoCommand implements Callable<Integer> {
    static final int STEPS = 10;
    static final double[] STRENGTHS = {0.7, 0.4};
    static final String PROMPT = "a lighthouse on a cliff at sunset";

    @Option(names = "--out", paramLabel = "DIR", defaultValue = "outputs/demo", description = "Output folder (default: ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = {"-S", "--seed"}, paramLabel = "N", defaultValue = "42", description = "Seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--preview", paramLabel = "proj|vae", defaultValue = "proj", description = "How step previews are drawn (default: ${DEFAULT-VALUE}).")
    String preview;

    @Option(names = "--size", paramLabel = "PX", defaultValue = "256", description = "Width and height (default: ${DEFAULT-VALUE}).")
    int size;

    @Option(names = "--threads", paramLabel = "N", defaultValue = "0", description = "CPU threads (default: all cores).")
    int threads;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter stdout = spec.commandLine().getOut(), err = spec.commandLine().getErr();
        Previews previews;
        try {
            previews = Previews.parse(preview);
        } catch (IllegalArgumentException e) {
            throw new EmberCommand.UsageException(e.getMessage());
        }
        List<String> notices = new ArrayList<>();
        threads = GenerationOptions.cappedThreads(threads, notices);
        notices.forEach(err::println);
        err.println("ember: the demo uses Ember's tiny synthetic model (random weights): its pictures are noise. "
                + "For real images run 'ember txt2img --model PATH' with a Stable Diffusion 1.x or 2.x checkpoint.");
        Path model = TinyModel.path().toAbsolutePath();
        boolean progress = ProgressReporter.wanted();
        List<Generator.Outcome> runs = new ArrayList<>();
        try (StableDiffusion sd = StableDiffusion.load(model, ModelOptions.defaults().withThreads(threads))) {
            ImageParameters txt = parameters(model, null, null).asRunBy(sd);
            stdout.printf(Locale.ROOT, "txt2img: %dx%d, %d steps, seed %d%n", size, size, STEPS, seed);
            stdout.flush();
            Generator.Outcome first = Generator.run(sd, txt, null, outputs("txt2img", previews), err, progress, Set.of(), w -> {});
            runs.add(first);
            InitImage init = InitImage.read(first.images().getFirst().file());
            for (double strength : STRENGTHS) {
                ImageParameters img = parameters(model, init, strength).asRunBy(sd);
                stdout.printf(Locale.ROOT, "img2img: strength %s, %d steps, %d of them run from the image%n", strength, STEPS,
                        img.toRequest(init.image()).stepsToRun());
                stdout.flush();
                runs.add(Generator.run(sd, img, init, outputs("img2img-" + strength, previews), err, progress, Set.of(), w -> {}));
            }
        }
        stdout.println("wrote:");
        for (Generator.Outcome run : runs) {
            for (Generator.Written w : run.images()) {
                stdout.println("  " + w.file());
                for (Path p : w.intermediates()) stdout.println("  " + p);
            }
        }
        stdout.println("look at the strips: " + String.join(", ", runs.stream()
                .map(r -> r.images().getFirst().intermediates().getLast().toString()).toList()));
        stdout.flush();
        return 0;
    }

    private Generator.Outputs outputs(String run, Previews previews) {
        Path folder = out.resolve(run);
        return new Generator.Outputs(folder, folder.resolve("steps"), 1, previews, null);
    }

    private ImageParameters parameters(Path model, InitImage init, Double strength) {
        boolean img2img = init != null;
        return new ImageParameters(img2img ? ImageParameters.IMG2IMG : ImageParameters.TXT2IMG, PROMPT, "", seed, STEPS, 7.5,
                size, size, "lms", "discrete", "philox", 1, strength, img2img ? "crop" : null,
                img2img ? init.path().toAbsolutePath().normalize().toString() : null, img2img ? init.sha256() : null, 0, null,
                model.toString(), ImageParameters.sizeOf(model), TinyModel.PRESET, "auto", "cpu", threads, null, Ember.version(),
                null, img2img ? "mean" : null);
    }
}
