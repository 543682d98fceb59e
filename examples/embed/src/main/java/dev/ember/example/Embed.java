package dev.ember.example;

import dev.ember.engine.GenerationRequest;
import dev.ember.engine.GenerationResult;
import dev.ember.engine.ModelOptions;
import dev.ember.engine.StableDiffusion;
import dev.ember.engine.StepListener;
import dev.ember.engine.TinyModel;
import dev.ember.engine.image.LatentPreview;
import dev.ember.engine.image.RgbImage;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Makes one picture with Ember and a strip of its steps: a step listener keeps a cheap preview of every
 * step's latent, and the previews are laid side by side in {@code steps.png}.
 *
 * <p>Usage: {@code Embed [output folder] [model file]}; without a model it uses Ember's tiny synthetic one
 * (random weights: the picture is noise, but every stage runs).
 */
public final class Embed {
    private Embed() {}

    public static void main(String[] args) throws IOException {
        Path out = Path.of(args.length > 0 ? args[0] : "embed-output");
        Path model = args.length > 1 ? Path.of(args[1]) : TinyModel.path();
        Files.createDirectories(out);

        List<RgbImage> previews = new ArrayList<>();
        try (StableDiffusion sd = StableDiffusion.load(model, ModelOptions.defaults())) {
            GenerationRequest request = sd.requestBuilder("a lighthouse at dusk").size(64, 64).steps(8).seed(42).build();
            GenerationResult result = sd.generate(request, step -> {
                // Step 0 is the starting latent, then one event per sampling step; the latent is ours to keep.
                // A cheap linear projection of it to RGB, each latent pixel an 8x8 block: image size.
                float[] latent = step.latent().toArray(ValueLayout.JAVA_FLOAT);
                previews.add(LatentPreview.preview(sd.previewPalette(), latent, 0, step.latentHeight(), step.latentWidth(), LatentPreview.VAE_SCALE));
                return StepListener.Action.CONTINUE;
            });
            RgbImage picture = result.images().getFirst().image();
            picture.writePng(out.resolve("picture.png"));
            strip(previews).writePng(out.resolve("steps.png"));
            System.out.printf("wrote %s (%dx%d) and %s (%d previews)%n", out.resolve("picture.png"), picture.width(), picture.height(),
                    out.resolve("steps.png"), previews.size());
        }
    }

    /** The previews side by side, left to right, each as tall as the tallest. */
    static RgbImage strip(List<RgbImage> images) {
        int width = images.stream().mapToInt(RgbImage::width).sum();
        int height = images.stream().mapToInt(RgbImage::height).max().orElse(0);
        byte[] rgb = new byte[width * height * 3];
        int left = 0;
        for (RgbImage image : images) {
            byte[] pixels = image.rgb();
            for (int y = 0; y < image.height(); y++) {
                System.arraycopy(pixels, y * image.width() * 3, rgb, (y * width + left) * 3, image.width() * 3);
            }
            left += image.width();
        }
        return new RgbImage(width, height, rgb);
    }
}
