package dev.ember.cli;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import dev.ember.engine.FlashAttention;
import dev.ember.engine.GenerationRequest;
import dev.ember.engine.InitResize;
import dev.ember.engine.SizeConditioning;
import dev.ember.engine.ModelOptions;
import dev.ember.engine.WeightType;
import dev.ember.engine.image.RgbImage;
import dev.ember.engine.noise.NoiseSource;
import dev.ember.engine.sampling.Prediction;
import dev.ember.engine.sampling.Sampler;
import dev.ember.engine.sampling.Schedule;
import java.nio.file.Path;

/**
 * Everything one run needs, fully resolved, in the form it is recorded in a PNG's {@code ember} JSON
 * chunk (and printed by {@code --json}). The record is the single source of truth: the engine's
 * request and model options are derived from it, so what is recorded is exactly what ran.
 *
 * <p>Enums are kept as their command-line ids (the JSON stays readable and stable across renames of
 * Java constants); {@link #toRequest} parses them back.
 *
 * @param mode            {@code txt2img} or {@code img2img}
 * @param seed            the seed of the first image (in an image's own metadata: that image's seed)
 * @param steps           steps of the full schedule; img2img runs {@code int(steps * strength)}
 * @param images          images in the batch (1 in an image's own metadata: re-running makes that one image)
 * @param strength        img2img only, else null
 * @param resize          img2img only, else null
 * @param initImage       img2img: absolute path of the init image, else null
 * @param initImageSha256 img2img: SHA-256 of the init image file, hex, so a re-run can check it is the same
 * @param clipSkip        0 = the model's default
 * @param prediction      {@code eps} / {@code v} override, or null for the model's own
 * @param model           absolute path of the checkpoint
 * @param modelSize       its size in bytes (a folder: the sum of its files), a cheap identity check
 * @param modelPreset     {@code tiny} when Ember's built-in tiny model was used (re-made if missing), else null
 * @param device          where it ran; recorded for information, a re-run uses its own {@code --device}
 * @param threads         CPU threads (0 = all); results do not depend on it
 * @param flashAttention  ggml's fused attention was used (it rounds K and V to f16: results differ slightly);
 *                        null before the model resolved it (auto)
 * @param emberVersion    the Ember that made the image
 * @param sizeConditioning SDXL's size conditioning when one was chosen, else null (the image size, no crop)
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
record ImageParameters(String mode, String prompt, String negativePrompt, long seed, int steps, double cfgScale,
                       int width, int height, String sampler, String schedule, String noise, int images,
                       Double strength, String resize, String initImage, String initImageSha256, int clipSkip,
                       String prediction, String model, Long modelSize, String modelPreset, String weightType,
                       String device, int threads, Boolean flashAttention, String emberVersion, SizeConditioning sizeConditioning) {
    static final String TXT2IMG = "txt2img";
    static final String IMG2IMG = "img2img";

    boolean isImg2Img() {
        return IMG2IMG.equals(mode);
    }

    /** The parameters of one image of the batch: its own seed, a batch of one. */
    ImageParameters forImage(long imageSeed) {
        return new ImageParameters(mode, prompt, negativePrompt, imageSeed, steps, cfgScale, width, height, sampler, schedule,
                noise, 1, strength, resize, initImage, initImageSha256, clipSkip, prediction, model, modelSize, modelPreset,
                weightType, device, threads, flashAttention, emberVersion, sizeConditioning);
    }

    /** The engine request (validated by the engine: out-of-range values throw IllegalArgumentException). */
    GenerationRequest toRequest(RgbImage init) {
        if (isImg2Img() != (init != null)) throw new IllegalStateException(mode + " with" + (init == null ? "out" : "") + " an init image");
        GenerationRequest.Builder b = GenerationRequest.builder(prompt)
                .negativePrompt(negativePrompt)
                .seed(seed)
                .steps(steps)
                .cfgScale(cfgScale)
                .size(width, height)
                .sampler(Sampler.parse(sampler))
                .schedule(Schedule.parse(schedule))
                .noise(NoiseSource.parse(noise))
                .images(images)
                .sizeConditioning(sizeConditioning);
        if (init != null) b.initImage(init).strength(strength).resize(InitResize.parse(resize));
        return b.build();
    }

    /** These parameters with flash attention as the loaded model resolved it (so the metadata says what ran). */
    ImageParameters withFlashAttention(boolean used) {
        return new ImageParameters(mode, prompt, negativePrompt, seed, steps, cfgScale, width, height, sampler, schedule,
                noise, images, strength, resize, initImage, initImageSha256, clipSkip, prediction, model, modelSize, modelPreset,
                weightType, device, threads, used, emberVersion, sizeConditioning);
    }

    ModelOptions toModelOptions() {
        return ModelOptions.defaults()
                .withThreads(threads)
                .withDevice(device)
                .withWeightType(WeightType.parse(weightType))
                .withClipSkip(clipSkip)
                .withFlashAttention(flashAttention == null ? FlashAttention.AUTO : FlashAttention.of(flashAttention))
                .withPrediction(prediction == null ? null : Prediction.parse(prediction));
    }

    Path modelPath() {
        return Path.of(model);
    }
}
