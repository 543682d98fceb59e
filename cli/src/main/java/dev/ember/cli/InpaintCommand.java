package dev.ember.cli;

import dev.ember.engine.Inpaint;
import dev.ember.engine.InpaintFill;
import dev.ember.engine.Outpaint;
import dev.ember.engine.image.RgbImage;
import dev.ember.engine.metadata.ImageParameters;
import dev.ember.engine.metadata.InpaintRecord;
import java.nio.file.Path;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ember inpaint}: img2img that repaints only the masked part of the picture (or, with {@code --outpaint},
 * a border added around it). The mask comes from {@code --mask}, else from the init image's transparency; its
 * file's SHA-256 and the settings are recorded, so {@code --from-image} makes the same pixels again.
 */
@Command(name = "inpaint", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Repaint part of a picture: white in the mask is repainted, black is kept (outpainting: a border added around it).",
        footer = {"", "Pixels the blurred mask does not reach stay exactly as they were. Without --mask, transparent pixels of the init",
                "image are repainted. The output size defaults to the picture's (the extended canvas with --outpaint), in multiples of 8.",
                "", "Examples:",
                "  ember inpaint -I photo.png --mask mask.png -p \"a red scarf\" --model v1-5.safetensors",
                "  ember inpaint -I photo.png --outpaint left=128,right=128 -p \"a wide beach\" -f 1",
                "  ember inpaint --from-image outputs/000003.42.png"})
final class InpaintCommand extends Img2ImgCommand {
    @Option(names = "--mask", paramLabel = "MASK", description = "The mask picture: white = repaint, black = keep, grey = partly (resized to the output).")
    Path mask;

    @Option(names = "--mask-blur", paramLabel = "PIXELS", description = "Gaussian blur of the mask's edge, A1111's mask_blur (default: 4).")
    Integer maskBlur;

    @Option(names = "--fill", paramLabel = "MODE",
            description = "What the masked area starts from (A1111's masked content): original, fill (blurred surroundings), "
                    + "latent-noise or latent-nothing (default: original; fill with --outpaint).")
    String fill;

    @Option(names = "--invert-mask", description = "Repaint the black part of the mask instead.")
    Boolean invertMask;

    @Option(names = "--noise-multiplier", paramLabel = "X", description = "The starting noise times X, A1111's initial_noise_multiplier (default: 1).")
    Double noiseMultiplier;

    @Option(names = "--only-masked",
            description = "Inpaint only the mask's bounding box plus padding, scaled to the working size (-W/-H), and paste it back: "
                    + "more detail for a small mask (A1111's inpaint_full_res). The result keeps the picture's size.")
    Boolean onlyMasked;

    @Option(names = "--only-masked-padding", paramLabel = "PIXELS", description = "Pixels around the mask's box with --only-masked (default: 32).")
    Integer padding;

    @Option(names = "--outpaint", paramLabel = "SIDES",
            description = "Extend the canvas and paint the new border: left=128,top=64,right=..,bottom=.. (pixels; new area pre-filled).")
    String outpaint;

    @Override
    Masking masking(ImageParameters recorded, InitImage image) {
        InpaintRecord before = recorded == null ? null : recorded.inpaint();
        Outpaint sides = outpaint(before);
        if (sides != null && mask != null) throw new EmberCommand.UsageException("give either --mask or --outpaint, not both");
        RgbImage picture = image.image(), maskImage;
        String maskPath = null, maskSha = null, from;
        if (sides != null) {
            picture = sides.extend(image.image());
            maskImage = sides.mask(image.image());
            from = InpaintRecord.FROM_OUTPAINT;
        } else if (mask != null || before != null && InpaintRecord.FROM_FILE.equals(before.maskFrom()) && before.mask() != null) {
            Path file = mask != null ? mask : Path.of(before.mask());
            InitImage read = readMask(file);
            if (mask == null && before.maskSha256() != null && !before.maskSha256().equalsIgnoreCase(read.sha256())) {
                throw new IllegalArgumentException("mask " + file + " has changed since " + options.fromImage
                        + " was made (SHA-256 differs); pass --mask to use it anyway");
            }
            maskImage = read.image();
            maskPath = file.toAbsolutePath().normalize().toString();
            maskSha = read.sha256();
            from = InpaintRecord.FROM_FILE;
        } else {
            maskImage = InitImage.alphaMask(image.path());
            if (maskImage == null) {
                throw new EmberCommand.UsageException("inpaint needs a mask: --mask MASK.png, an init image with transparent pixels, or --outpaint SIDES");
            }
            maskSha = image.sha256();
            from = InpaintRecord.FROM_ALPHA;
        }
        boolean regionOnly = onlyMasked != null ? onlyMasked : before != null && before.onlyMasked();
        if (regionOnly && sides != null) throw new EmberCommand.UsageException("--only-masked does not go with --outpaint");
        if (options.width == null && options.height == null && recorded == null && !regionOnly) {
            // The picture's own size, in the multiples of 8 the model needs (the fit crops the rest).
            options.width = Math.max(64, picture.width() / 8 * 8);
            options.height = Math.max(64, picture.height() / 8 * 8);
        }
        InpaintFill fillMode;
        try {
            fillMode = fill != null ? InpaintFill.parse(fill) : before != null ? InpaintFill.parse(before.fill())
                    : sides != null ? InpaintFill.FILL : InpaintFill.ORIGINAL;
        } catch (IllegalArgumentException e) {
            throw new EmberCommand.UsageException("--fill: " + e.getMessage());
        }
        Inpaint settings;
        try {
            settings = new Inpaint(maskImage,
                    maskBlur != null ? maskBlur : before != null ? before.blur() : Inpaint.DEFAULT_BLUR,
                    fillMode,
                    invertMask != null ? invertMask : before != null && before.invert(),
                    regionOnly, padding != null ? padding : before != null && before.onlyMasked() ? before.padding() : 32,
                    noiseMultiplier != null ? noiseMultiplier : before != null ? before.noiseMultiplier() : 1);
        } catch (IllegalArgumentException e) {
            // an empty mask, or an option out of range: bad input
            throw new IllegalArgumentException(e.getMessage(), e);
        }
        InpaintRecord record = InpaintRecord.of(settings).withMask(maskPath, maskSha, from, sides == null ? null : sides.toString());
        return new Masking(image.inpainting(picture, maskImage), record);
    }

    private Outpaint outpaint(InpaintRecord before) {
        String text = outpaint != null ? outpaint : before != null ? before.outpaint() : null;
        if (text == null) return null;
        try {
            return Outpaint.parse(text);
        } catch (IllegalArgumentException e) {
            if (outpaint != null) throw new EmberCommand.UsageException("--outpaint: " + e.getMessage());
            throw e;
        }
    }

    private static InitImage readMask(Path file) {
        try {
            return InitImage.read(file);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(e.getMessage().replaceFirst("^init image", "mask"), e);
        }
    }
}
