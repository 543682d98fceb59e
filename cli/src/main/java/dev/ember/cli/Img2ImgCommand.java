package dev.ember.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import dev.ember.engine.metadata.ImageParameters;

/** {@code ember img2img}: pictures from a picture and a prompt. */
@Command(name = "img2img", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Make pictures from a starting picture and a prompt.",
        footer = {"", "img2img runs the last int(steps * strength) steps of the schedule from the noised init image.",
                "", "Examples:",
                "  ember img2img -I sketch.png -p \"a lighthouse at dusk\" -f 0.6 --model v1-5.safetensors",
                "  ember img2img -I sketch.png -p \"a lighthouse\" --steps-from-image 20 -f 0.4   # 50 steps, 20 run",
                "  ember img2img --from-image outputs/000002.42.png"})
class Img2ImgCommand implements Callable<Integer> {
    @Option(names = {"-I", "--init"}, paramLabel = "IMAGE", description = "The starting picture (PNG, JPEG, ...).")
    Path init;

    @Option(names = {"-f", "--strength"}, paramLabel = "0..1",
            description = "How much of the schedule runs from the init image: 0 keeps it, 1 ignores it (default: 0.75).")
    Double strength;

    @Option(names = "--resize", paramLabel = "crop|stretch", description = "How an init image of another size is fitted (default: crop).")
    String resize;

    @Option(names = "--init-latent", paramLabel = "mean|sample",
            description = "The init image's latent: mean, the VAE posterior's mean (the same image always gives the same latent), "
                    + "or sample, a draw from the posterior made with each image's seed, as diffusers and InvokeAI do (default: mean).")
    String initLatent;

    @Option(names = "--steps-from-image", paramLabel = "N",
            description = "Run N steps from the image: total steps = ceil(N / strength) (20 at strength 0.4 is 50).")
    Integer stepsFromImage;

    @Mixin
    GenerationOptions options;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        ImageParameters recorded = options.recorded();
        InitImage image = initImage(recorded);
        Masking masking = masking(recorded, image);
        image = masking.image();
        GenerationOptions.Img2Img img2img = new GenerationOptions.Img2Img(image.path(), image.sha256(),
                GenerationOptions.strength(strength, recorded), GenerationOptions.resize(resize, recorded), stepsFromImage,
                GenerationOptions.initLatent(initLatent, recorded));
        List<String> notices = new ArrayList<>();
        ImageParameters parameters = options.resolve(recorded, img2img, notices).withInpaint(masking.record());
        return GenerationSession.run(spec.commandLine().getOut(), spec.commandLine().getErr(), options, parameters, image, notices);
    }

    /** The picture (with its mask) that goes to the engine, and what the metadata records about the mask (null: none). */
    record Masking(InitImage image, dev.ember.engine.metadata.InpaintRecord record) {}

    /** img2img: the init image as it is, no mask (a re-run of an inpainted image as img2img drops its mask). */
    Masking masking(ImageParameters recorded, InitImage image) {
        return new Masking(image, null);
    }

    /** {@code --init}, else the init image recorded by {@code --from-image}, checked against its recorded hash. */
    private InitImage initImage(ImageParameters recorded) {
        if (init != null) return InitImage.read(init);
        if (recorded == null || recorded.initImage() == null) {
            throw new EmberCommand.UsageException(spec.name() + " needs a starting picture: --init IMAGE (-I)");
        }
        InitImage image = InitImage.read(Path.of(recorded.initImage()));
        if (recorded.initImageSha256() != null && !recorded.initImageSha256().equalsIgnoreCase(image.sha256())) {
            throw new IllegalArgumentException("init image " + image.path() + " has changed since " + options.fromImage
                    + " was made (SHA-256 differs); pass --init to use it anyway");
        }
        return image;
    }
}
