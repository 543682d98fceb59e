package dev.ember.engine.metadata;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import dev.ember.engine.AddOns;
import dev.ember.engine.Ember;
import dev.ember.engine.FlashAttention;
import dev.ember.engine.GenerationRequest;
import dev.ember.engine.InitLatent;
import dev.ember.engine.InitResize;
import dev.ember.engine.ModelOptions;
import dev.ember.engine.SizeConditioning;
import dev.ember.engine.StableDiffusion;
import dev.ember.engine.TinyModel;
import dev.ember.engine.WeightType;
import dev.ember.engine.image.RgbImage;
import dev.ember.engine.noise.NoiseSource;
import dev.ember.engine.sampling.Prediction;
import dev.ember.engine.sampling.Sampler;
import dev.ember.engine.sampling.Schedule;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.stream.Stream;

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
 * @param modelFingerprint the model file's fingerprint when it was loaded ({@code StableDiffusion.fileFingerprint()}:
 *                        a SHA-256 of its size and sampled content); null when not known
 * @param initLatent      img2img: {@code mean} or {@code sample} (the VAE posterior's mean or a draw from it); null
 *                        for txt2img and in records made before the option existed (which used the mean)
 * @param addOns          LoRAs, embeddings, a separate VAE, TAESD and tiling ({@link AddOnsRecord}); null when none were set
 * @param sizeConditioning SDXL's size conditioning when one was chosen, else null (the image size, no crop)
 * @param inpaint         img2img with a mask: the mask's origin and hash and the inpainting settings ({@link InpaintRecord}), else null
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public record ImageParameters(String mode, String prompt, String negativePrompt, long seed, int steps, double cfgScale,
                       int width, int height, String sampler, String schedule, String noise, int images,
                       Double strength, String resize, String initImage, String initImageSha256, int clipSkip,
                       String prediction, String model, Long modelSize, String modelPreset, String weightType,
                       String device, int threads, Boolean flashAttention, String emberVersion, String modelFingerprint,
                       String initLatent, AddOnsRecord addOns, SizeConditioning sizeConditioning, InpaintRecord inpaint) {
    public static final String TXT2IMG = "txt2img";

    /** Without inpainting (as before it was recorded). */
    public ImageParameters(String mode, String prompt, String negativePrompt, long seed, int steps, double cfgScale,
                           int width, int height, String sampler, String schedule, String noise, int images,
                           Double strength, String resize, String initImage, String initImageSha256, int clipSkip,
                           String prediction, String model, Long modelSize, String modelPreset, String weightType,
                           String device, int threads, Boolean flashAttention, String emberVersion, String modelFingerprint,
                           String initLatent, AddOnsRecord addOns, SizeConditioning sizeConditioning) {
        this(mode, prompt, negativePrompt, seed, steps, cfgScale, width, height, sampler, schedule, noise, images, strength, resize,
                initImage, initImageSha256, clipSkip, prediction, model, modelSize, modelPreset, weightType, device, threads,
                flashAttention, emberVersion, modelFingerprint, initLatent, addOns, sizeConditioning, null);
    }

    /** Without SDXL size conditioning (as before it was recorded). */
    public ImageParameters(String mode, String prompt, String negativePrompt, long seed, int steps, double cfgScale,
                           int width, int height, String sampler, String schedule, String noise, int images,
                           Double strength, String resize, String initImage, String initImageSha256, int clipSkip,
                           String prediction, String model, Long modelSize, String modelPreset, String weightType,
                           String device, int threads, Boolean flashAttention, String emberVersion, String modelFingerprint,
                           String initLatent, AddOnsRecord addOns) {
        this(mode, prompt, negativePrompt, seed, steps, cfgScale, width, height, sampler, schedule, noise, images, strength, resize,
                initImage, initImageSha256, clipSkip, prediction, model, modelSize, modelPreset, weightType, device, threads,
                flashAttention, emberVersion, modelFingerprint, initLatent, addOns, null, null);
    }

    /** Without add-ons. */
    public ImageParameters(String mode, String prompt, String negativePrompt, long seed, int steps, double cfgScale,
                           int width, int height, String sampler, String schedule, String noise, int images,
                           Double strength, String resize, String initImage, String initImageSha256, int clipSkip,
                           String prediction, String model, Long modelSize, String modelPreset, String weightType,
                           String device, int threads, Boolean flashAttention, String emberVersion, String modelFingerprint,
                           String initLatent) {
        this(mode, prompt, negativePrompt, seed, steps, cfgScale, width, height, sampler, schedule, noise, images, strength, resize,
                initImage, initImageSha256, clipSkip, prediction, model, modelSize, modelPreset, weightType, device, threads,
                flashAttention, emberVersion, modelFingerprint, initLatent, null, null, null);
    }

    /** Without add-ons or an init-latent choice (as before they were recorded). */
    public ImageParameters(String mode, String prompt, String negativePrompt, long seed, int steps, double cfgScale,
                           int width, int height, String sampler, String schedule, String noise, int images,
                           Double strength, String resize, String initImage, String initImageSha256, int clipSkip,
                           String prediction, String model, Long modelSize, String modelPreset, String weightType,
                           String device, int threads, Boolean flashAttention, String emberVersion, String modelFingerprint) {
        this(mode, prompt, negativePrompt, seed, steps, cfgScale, width, height, sampler, schedule, noise, images, strength, resize,
                initImage, initImageSha256, clipSkip, prediction, model, modelSize, modelPreset, weightType, device, threads,
                flashAttention, emberVersion, modelFingerprint, null, null, null, null);
    }

    /** Without a model fingerprint (as before it was recorded). */
    public ImageParameters(String mode, String prompt, String negativePrompt, long seed, int steps, double cfgScale,
                           int width, int height, String sampler, String schedule, String noise, int images,
                           Double strength, String resize, String initImage, String initImageSha256, int clipSkip,
                           String prediction, String model, Long modelSize, String modelPreset, String weightType,
                           String device, int threads, Boolean flashAttention, String emberVersion) {
        this(mode, prompt, negativePrompt, seed, steps, cfgScale, width, height, sampler, schedule, noise, images, strength, resize,
                initImage, initImageSha256, clipSkip, prediction, model, modelSize, modelPreset, weightType, device, threads,
                flashAttention, emberVersion, null, null, null, null, null);
    }
    public static final String IMG2IMG = "img2img";

    /**
     * The record of a request as {@code model} runs it: what the CLI, the server and Spark write into each
     * PNG. {@code initImage} names the init image for people (a path, or null when it came from elsewhere);
     * {@code initImageSha256} identifies its bytes (null for txt2img).
     */
    public static ImageParameters of(GenerationRequest request, StableDiffusion model, String initImage, String initImageSha256) {
        ModelOptions o = model.options();
        Path path = model.path().toAbsolutePath().normalize();
        boolean tiny = path.equals(TinyModel.location().toAbsolutePath().normalize());
        return new ImageParameters(request.isImg2Img() ? IMG2IMG : TXT2IMG, request.prompt(), request.negativePrompt(), request.seed(),
                request.steps(), request.cfgScale(), request.width(), request.height(), request.sampler().id(), request.schedule().id(),
                request.noise().id(), request.images(), request.isImg2Img() ? request.strength() : null,
                request.isImg2Img() ? request.resize().name().toLowerCase(Locale.ROOT) : null, initImage, initImageSha256,
                o.clipSkip(), o.prediction() == null ? null : o.prediction().label(), path.toString(), sizeOf(path),
                tiny ? TinyModel.PRESET : null, o.weightType().id(), o.device(), o.threads(), model.usesFlashAttention(), Ember.version(),
                model.fileFingerprint(), request.isImg2Img() ? request.initLatent().id() : null, AddOnsRecord.of(request, model), request.sizeConditioning(),
                InpaintRecord.of(request.inpaint()));
    }

    /** Bytes of a model file, or of all files in a diffusers folder; null when it cannot be read. */
    public static Long sizeOf(Path path) {
        try {
            if (Files.isRegularFile(path)) return Files.size(path);
            if (!Files.isDirectory(path)) return null;
            try (Stream<Path> files = Files.walk(path)) {
                return files.filter(Files::isRegularFile).mapToLong(f -> {
                    try {
                        return Files.size(f);
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                }).sum();
            }
        } catch (IOException | UncheckedIOException e) {
            return null;
        }
    }

    public boolean isImg2Img() {
        return IMG2IMG.equals(mode);
    }

    /** The parameters of one image of the batch: its own seed, a batch of one. */
    public ImageParameters forImage(long imageSeed) {
        return new ImageParameters(mode, prompt, negativePrompt, imageSeed, steps, cfgScale, width, height, sampler, schedule,
                noise, 1, strength, resize, initImage, initImageSha256, clipSkip, prediction, model, modelSize, modelPreset,
                weightType, device, threads, flashAttention, emberVersion, modelFingerprint, initLatent, addOns, sizeConditioning, inpaint);
    }

    /** These parameters with their add-ons (as {@link AddOnsRecord#of(GenerationRequest, StableDiffusion)} resolves them). */
    public ImageParameters withAddOns(AddOnsRecord value) {
        return new ImageParameters(mode, prompt, negativePrompt, seed, steps, cfgScale, width, height, sampler, schedule,
                noise, images, strength, resize, initImage, initImageSha256, clipSkip, prediction, model, modelSize, modelPreset,
                weightType, device, threads, flashAttention, emberVersion, modelFingerprint, initLatent, value, sizeConditioning, inpaint);
    }

    /** The engine request (validated by the engine: out-of-range values throw IllegalArgumentException). */
    public GenerationRequest toRequest(RgbImage init) {
        return toRequest(init, null);
    }

    /** As {@link #toRequest(RgbImage)}, with inpainting's {@code mask} (null without {@link #inpaint()}). */
    public GenerationRequest toRequest(RgbImage init, RgbImage mask) {
        if ((inpaint != null) != (mask != null)) throw new IllegalStateException("inpainting parameters with" + (mask == null ? "out" : "") + " a mask");
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
        if (addOns != null) b.loras(addOns.explicitLoras());
        if (init != null) {
            b.initImage(init).strength(strength).resize(InitResize.parse(resize))
                    .initLatent(initLatent == null ? InitLatent.MEAN : InitLatent.parse(initLatent));
            if (inpaint != null) b.inpaint(inpaint.toInpaint(mask));
        }
        return b.build();
    }

    /** These parameters with inpainting's record (null: none). */
    public ImageParameters withInpaint(InpaintRecord value) {
        return new ImageParameters(mode, prompt, negativePrompt, seed, steps, cfgScale, width, height, sampler, schedule,
                noise, images, strength, resize, initImage, initImageSha256, clipSkip, prediction, model, modelSize, modelPreset,
                weightType, device, threads, flashAttention, emberVersion, modelFingerprint, initLatent, addOns, sizeConditioning, value);
    }

    /** These parameters with flash attention as the loaded model resolved it (so the metadata says what ran). */
    public ImageParameters withFlashAttention(boolean used) {
        return new ImageParameters(mode, prompt, negativePrompt, seed, steps, cfgScale, width, height, sampler, schedule,
                noise, images, strength, resize, initImage, initImageSha256, clipSkip, prediction, model, modelSize, modelPreset,
                weightType, device, threads, used, emberVersion, modelFingerprint, initLatent, addOns, sizeConditioning, inpaint);
    }

    /** These parameters as run by {@code model}: flash attention as it resolved it, and its file's fingerprint. */
    public ImageParameters asRunBy(StableDiffusion model) {
        return new ImageParameters(mode, prompt, negativePrompt, seed, steps, cfgScale, width, height, sampler, schedule,
                noise, images, strength, resize, initImage, initImageSha256, clipSkip, prediction, this.model, modelSize, modelPreset,
                weightType, device, threads, model.usesFlashAttention(), emberVersion, model.fileFingerprint(), initLatent, addOns, sizeConditioning, inpaint);
    }

    /**
     * Whether an image recorded with {@code other} is the image these parameters make: every parameter that
     * decides the pixels is equal (the model by its fingerprint, the init image by its SHA-256), while the
     * paths, device, threads and Ember version may differ. False when either has no model fingerprint.
     */
    public boolean makesSameImageAs(ImageParameters other) {
        if (modelFingerprint == null || other.modelFingerprint == null) return false;
        return pixelsOnly().equals(other.pixelsOnly());
    }

    private ImageParameters pixelsOnly() {
        return new ImageParameters(mode, prompt, negativePrompt, seed, steps, cfgScale, width, height, sampler, schedule,
                noise, images, strength, resize, null, initImageSha256, clipSkip, prediction, null, modelSize, null,
                weightType, null, 0, flashAttention, null, modelFingerprint, initLatent == null && isImg2Img() ? "mean" : initLatent,
                addOns == null ? null : addOns.pixelsOnly(),
                SizeConditioning.of(width, height).equals(sizeConditioning) ? null : sizeConditioning,
                inpaint == null ? null : inpaint.pixelsOnly());
    }

    public ModelOptions toModelOptions() {
        return ModelOptions.defaults()
                .withThreads(threads)
                .withDevice(device)
                .withWeightType(WeightType.parse(weightType))
                .withClipSkip(clipSkip)
                .withFlashAttention(addOns != null && addOns.attention() != null ? FlashAttention.parse(addOns.attention())
                        : flashAttention == null ? FlashAttention.AUTO : FlashAttention.of(flashAttention))
                .withPrediction(prediction == null ? null : Prediction.parse(prediction))
                .withAddOns(addOns == null ? AddOns.none() : addOns.toAddOns());
    }

    public Path modelPath() {
        return Path.of(model);
    }
}
