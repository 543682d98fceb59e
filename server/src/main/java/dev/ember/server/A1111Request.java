package dev.ember.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ember.engine.GenerationRequest;
import dev.ember.engine.InitResize;
import dev.ember.engine.Inpaint;
import dev.ember.engine.InpaintFill;
import dev.ember.engine.image.RgbImage;
import dev.ember.engine.noise.NoiseSource;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;

/**
 * A txt2img or img2img body read with A1111's field names and defaults ({@code StableDiffusionProcessingTxt2Img}
 * and the API's additions): 50 steps, cfg 7, 512x512, sampler Euler, scheduler Automatic, seed -1 (random),
 * denoising strength 0.75, resize mode 0. Fields Ember has no counterpart for are accepted; those that would
 * change the picture in A1111 (subseeds, hires fix, face restoration, tiling, styles) are ignored with a warning
 * in {@code info}. img2img's mask fields inpaint ({@link #inpaint}).
 *
 * @param job        the images to make
 * @param parameters A1111's echo of the request (its fields with defaults filled in)
 * @param warnings   what was ignored
 */
record A1111Request(Job job, ObjectNode parameters, boolean sendImages, boolean saveImages, int batchSize, String samplerName,
                    Double denoisingStrength, int clipStop, List<String> warnings) {
    private static final SecureRandom RANDOM = new SecureRandom();

    static A1111Request parse(JsonNode body, boolean img2img, ServerConfig config, ModelCatalog catalog, Selection selection) {
        RequestFields f = RequestFields.of(body);
        List<String> warnings = new ArrayList<>();
        ObjectNode echo = ((ObjectNode) body).deepCopy();

        String prompt = f.string("prompt", "");
        String negative = f.string("negative_prompt", "");
        if (!f.strings("styles").isEmpty()) warnings.add("styles are not supported; ignored");
        long seed = f.integer("seed", -1L, Long.MIN_VALUE, Long.MAX_VALUE);
        if (seed == -1) seed = RANDOM.nextLong(4294967294L); // A1111: random.randrange(4294967294)
        long subseed = f.integer("subseed", -1L, Long.MIN_VALUE, Long.MAX_VALUE);
        double subseedStrength = f.decimal("subseed_strength", 0, 0, 1);
        long resizeH = f.integer("seed_resize_from_h", -1L, -1, Integer.MAX_VALUE), resizeW = f.integer("seed_resize_from_w", -1L, -1, Integer.MAX_VALUE);
        if (subseedStrength != 0 || subseed != -1 || resizeH > 0 || resizeW > 0) {
            warnings.add("subseed, subseed_strength and seed_resize_from_* (variation seeds) are not supported; ignored");
        }
        for (String unsupported : List.of("enable_hr", "restore_faces", "tiling")) {
            if (f.bool(unsupported, false)) warnings.add(unsupported + " is not supported; ignored");
        }

        String samplerField = f.has("sampler_name") ? "sampler_name" : f.has("sampler_index") ? "sampler_index" : "sampler_name";
        String samplerName = f.string(samplerField, "Euler");
        A1111Names.Choice choice = A1111Names.resolve(samplerName, samplerField, f.string("scheduler", null));

        int batchSize = f.integer("batch_size", 1, 1, config.maxImages());
        int iterations = f.integer("n_iter", 1, 1, config.maxImages());
        if (batchSize * iterations > config.maxImages()) {
            throw ApiException.invalid("batch_size", "batch_size x n_iter is " + batchSize * iterations + "; this server makes at most "
                    + config.maxImages() + " images per request");
        }
        int steps = f.integer("steps", 50, 1, config.maxSteps());
        double cfg = f.decimal("cfg_scale", 7.0, 1, GenerationRequest.MAX_CFG);
        int width = side(f, "width", config), height = side(f, "height", config);
        if ((long) width * height > config.maxPixels()) {
            throw ApiException.invalid("width", width + "x" + height + " is " + (long) width * height + " pixels; this server allows at most "
                    + config.maxPixels());
        }

        RequestFields overrides = f.object("override_settings");
        ModelCatalog.Entry checkpoint = selection.checkpoint();
        if (overrides.has("sd_model_checkpoint")) {
            String name = overrides.string("sd_model_checkpoint", null);
            checkpoint = catalog.find(name);
            if (checkpoint == null) throw ApiException.invalid("override_settings.sd_model_checkpoint", "unknown checkpoint '" + name + "'; see /sdapi/v1/sd-models");
        }
        int clipStop = overrides.integer("CLIP_stop_at_last_layers", selection.clipStop(), 1, Selection.MAX_CLIP_STOP);
        NoiseSource noise = overrides.has("randn_source")
                ? Selection.parseRandnSource("override_settings.randn_source", overrides.string("randn_source", "GPU")) : selection.noise();
        Selection used = new Selection(checkpoint, clipStop, noise);
        boolean sendImages = f.bool("send_images", true), saveImages = f.bool("save_images", false);

        GenerationRequest.Builder base = GenerationRequest.builder(prompt).negativePrompt(negative).steps(steps).cfgScale(cfg)
                .size(width, height).sampler(choice.sampler()).schedule(choice.schedule()).noise(noise).images(1);
        String initSha = null;
        Double strength = null;
        if (img2img) {
            List<String> inits = f.strings("init_images");
            if (inits.isEmpty()) throw ApiException.invalid("init_images", "img2img needs one init image (base64)");
            if (inits.size() > 1) throw ApiException.invalid("init_images", "only one init image is supported, got " + inits.size());
            byte[] bytes = Images.bytes("init_images[0]", inits.getFirst());
            RgbImage init = Images.decode("init_images[0]", bytes);
            initSha = Images.sha256(bytes);
            strength = f.decimal("denoising_strength", 0.75, 0, 1);
            int resizeMode = f.integer("resize_mode", 0, 0, 3);
            InitResize resize = switch (resizeMode) {
                case 0 -> InitResize.STRETCH; // A1111 "Just resize"
                case 1 -> InitResize.CROP;    // "Crop and resize"
                default -> throw ApiException.invalid("resize_mode", resizeMode + " (" + (resizeMode == 2 ? "resize and fill" : "latent upscale")
                        + ") is not supported; valid: 0 (just resize), 1 (crop and resize)");
            };
            base.initImage(init).strength(strength).resize(resize).inpaint(inpaint(f, warnings));
            if (!f.bool("include_init_images", false)) echo.putNull("init_images");
            echo.putNull("mask");
        }

        List<GenerationRequest> requests = new ArrayList<>();
        for (int i = 0; i < batchSize * iterations; i++) {
            try {
                requests.add(base.seed(seed < 0 || seed > GenerationRequest.MAX_SEED ? seed : (seed + i) & GenerationRequest.MAX_SEED).build());
            } catch (IllegalArgumentException e) {
                throw ApiException.invalid(null, e.getMessage());
            }
        }
        fillDefaults(echo, prompt, negative, samplerName, batchSize, iterations, steps, cfg, width, height, sendImages, saveImages);
        Job job = new Job(img2img ? "img2img" : "txt2img", used.key(), requests, initSha);
        for (String w : warnings) job.warn(w);
        return new A1111Request(job, echo, sendImages, saveImages, batchSize, A1111Names.displayName(choice.sampler()), strength, clipStop,
                List.copyOf(warnings));
    }

    /**
     * img2img's inpainting fields with A1111's defaults: {@code mask} (base64 picture; its luminance, white = repaint),
     * {@code mask_blur} 4, {@code inpainting_fill} 0 (fill), {@code inpainting_mask_invert} 0,
     * {@code initial_noise_multiplier} 1, {@code inpaint_full_res} true with {@code inpaint_full_res_padding} 0 (only the
     * masked area, scaled to width x height, pasted back into the init image, whose size the result has). Null without a mask.
     */
    static Inpaint inpaint(RequestFields f, List<String> warnings) {
        String mask = f.string("mask", null);
        if (mask == null || mask.isBlank()) return null;
        RgbImage picture = Images.decode("mask", Images.bytes("mask", mask));
        int blur = (int) f.integer("mask_blur", Inpaint.DEFAULT_BLUR, 0, Inpaint.MAX_BLUR);
        if (!f.has("mask_blur") && (f.has("mask_blur_x") || f.has("mask_blur_y"))) {
            int x = (int) f.integer("mask_blur_x", Inpaint.DEFAULT_BLUR, 0, Inpaint.MAX_BLUR);
            int y = (int) f.integer("mask_blur_y", Inpaint.DEFAULT_BLUR, 0, Inpaint.MAX_BLUR);
            if (x != y) warnings.add("mask_blur_x and mask_blur_y differ; both use mask_blur_x = " + x);
            blur = x;
        }
        InpaintFill fill = InpaintFill.ofA1111((int) f.integer("inpainting_fill", 0, 0, 3));
        boolean invert = f.bool("inpainting_mask_invert", false); // A1111 sends 0 or 1
        double multiplier = f.decimal("initial_noise_multiplier", 1, 0, 2);
        boolean onlyMasked = f.bool("inpaint_full_res", true);
        int padding = (int) f.integer("inpaint_full_res_padding", 0, 0, Inpaint.MAX_PADDING);
        try {
            return new Inpaint(picture, blur, fill, invert, onlyMasked, padding, multiplier);
        } catch (IllegalArgumentException e) {
            throw ApiException.invalid("mask", e.getMessage());
        }
    }

    private static int side(RequestFields f, String field, ServerConfig config) {
        int v = f.integer(field, 512, 64, GenerationRequest.MAX_SIDE);
        if (v % 8 != 0) throw ApiException.invalid(field, "must be a multiple of 8, got " + v);
        return v;
    }

    /** A1111 echoes every field of the request model: fill in the main ones a client left out. */
    private static void fillDefaults(ObjectNode echo, String prompt, String negative, String sampler, int batchSize, int iterations,
                                     int steps, double cfg, int width, int height, boolean send, boolean save) {
        if (!echo.has("prompt")) echo.put("prompt", prompt);
        if (!echo.has("negative_prompt")) echo.put("negative_prompt", negative);
        if (!echo.has("seed")) echo.put("seed", -1);
        if (!echo.has("sampler_name")) echo.put("sampler_name", sampler);
        if (!echo.has("batch_size")) echo.put("batch_size", batchSize);
        if (!echo.has("n_iter")) echo.put("n_iter", iterations);
        if (!echo.has("steps")) echo.put("steps", steps);
        if (!echo.has("cfg_scale")) echo.put("cfg_scale", cfg);
        if (!echo.has("width")) echo.put("width", width);
        if (!echo.has("height")) echo.put("height", height);
        if (!echo.has("send_images")) echo.put("send_images", send);
        if (!echo.has("save_images")) echo.put("save_images", save);
        if (!echo.has("override_settings")) echo.putObject("override_settings");
    }
}
