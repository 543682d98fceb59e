package dev.ember.engine.metadata;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import dev.ember.engine.Inpaint;
import dev.ember.engine.InpaintFill;
import dev.ember.engine.image.RgbImage;

/**
 * An inpainting run's settings as an image's metadata records them ({@link ImageParameters#inpaint()}): where the
 * mask came from and its SHA-256 (so a re-run can check it is the same mask), and every setting of {@link Inpaint}.
 *
 * @param mask       absolute path of the mask file, or null when the mask came from elsewhere
 * @param maskSha256 SHA-256 (hex) of the mask file's bytes, or with {@code maskFrom = alpha} of the init image's file
 * @param maskFrom   {@code file} (a mask picture), {@code alpha} (the init image's transparency), {@code outpaint}
 *                   (the extended canvas), or null (given through the API)
 * @param outpaint   the canvas extension ({@code left=..,top=..,right=..,bottom=..}), or null
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public record InpaintRecord(String mask, String maskSha256, String maskFrom, int blur, String fill, boolean invert, boolean onlyMasked,
                            int padding, double noiseMultiplier, String outpaint) {
    public static final String FROM_FILE = "file";
    public static final String FROM_ALPHA = "alpha";
    public static final String FROM_OUTPAINT = "outpaint";

    /** The record of {@code inpaint}, the mask's origin unknown (fill {@link #withMask} in when it is). */
    public static InpaintRecord of(Inpaint inpaint) {
        return inpaint == null ? null : new InpaintRecord(null, null, null, inpaint.blur(), inpaint.fill().id(), inpaint.invert(),
                inpaint.onlyMasked(), inpaint.padding(), inpaint.noiseMultiplier(), null);
    }

    public InpaintRecord withMask(String path, String sha256, String from, String outpaintSides) {
        return new InpaintRecord(path, sha256, from, blur, fill, invert, onlyMasked, padding, noiseMultiplier, outpaintSides);
    }

    /** The engine's settings with {@code maskImage} (checked by {@link Inpaint}'s constructor). */
    public Inpaint toInpaint(RgbImage maskImage) {
        return new Inpaint(maskImage, blur, InpaintFill.parse(fill), invert, onlyMasked, padding, noiseMultiplier);
    }

    /** What decides the pixels: all but the mask's path. */
    InpaintRecord pixelsOnly() {
        return new InpaintRecord(null, maskSha256, maskFrom, blur, fill, invert, onlyMasked, padding, noiseMultiplier, outpaint);
    }
}
