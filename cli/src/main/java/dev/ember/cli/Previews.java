package dev.ember.cli;

import dev.ember.engine.StableDiffusion;
import dev.ember.engine.StepEvent;
import dev.ember.engine.image.LatentPreview;
import dev.ember.engine.image.RgbImage;
import java.lang.foreign.ValueLayout;
import java.util.Locale;

/**
 * How a step's latent becomes a picture for {@code --intermediates}.
 *
 * <p>Both kinds show the current latent x, the sample the sampler holds at that step, as InvokeAI's
 * intermediates do: step 0 is then exactly what SD starts from (pure noise for txt2img, the noised init
 * image for img2img) and the last step is the final latent, so a strip reads as the path from noise to
 * the picture. (The denoised estimate x0 would look finished much earlier, but step 0 has none, and a
 * strip that mixes the two would not show what sampling does.)
 */
enum Previews {
    /** SD's linear latent-to-RGB projection, blown up 8x (nearest) to image size: free, rough colours. */
    PROJ,
    /** A full VAE decode: the real picture of the latent, one VAE pass per written step. */
    VAE,
    /** TAESD's decode: looks like the VAE's picture for a small part of a step's time (needs --taesd). */
    TAESD;

    static Previews parse(String s) {
        return switch (s.strip().toLowerCase(Locale.ROOT)) {
            case "proj", "projection" -> PROJ;
            case "vae" -> VAE;
            case "taesd" -> TAESD;
            default -> throw new IllegalArgumentException("unknown preview '" + s + "'; valid: proj, vae, taesd");
        };
    }

    RgbImage render(StableDiffusion sd, StepEvent e) {
        return switch (this) {
            case PROJ -> LatentPreview.preview(sd.previewPalette(), e.latent().toArray(ValueLayout.JAVA_FLOAT), 0, e.latentHeight(),
                    e.latentWidth(), LatentPreview.VAE_SCALE);
            case VAE -> sd.decodePreview(e.latent(), e.latentHeight(), e.latentWidth());
            case TAESD -> sd.taesdPreview(e.latent(), e.latentHeight(), e.latentWidth());
        };
    }
}
