package dev.ember.engine;

import dev.ember.engine.image.RgbImage;
import dev.ember.engine.noise.NoiseSource;
import dev.ember.engine.sampling.Sampler;
import dev.ember.engine.sampling.Schedule;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * One txt2img or img2img request. Validated on construction: an instance is always runnable
 * (apart from sizes the model itself cannot take, checked when it runs). Start from
 * {@link #builder(String)}; defaults are InvokeAI's: 50 steps, cfg 7.5, k_lms, 512x512, strength 0.75.
 *
 * @param prompt         what to draw
 * @param negativePrompt what to steer away from; "" is encoded like any prompt for SD 1.x/2.x; SDXL conditions on
 *                       zeros instead (as sgm, diffusers and AUTOMATIC1111 do for an empty SDXL negative prompt)
 * @param seed           the first image's seed, in [0, 2^32) as in AUTOMATIC1111 and InvokeAI; image i uses
 *                       {@code (seed + i) mod 2^32} ({@link #imageSeed(int)}), so seeds stay in that range
 * @param steps          sampling steps of the full schedule (img2img runs {@code int(steps * strength)} of them)
 * @param cfgScale       classifier-free guidance scale; 1 = no guidance (the negative prompt is then unused)
 * @param width          image width in pixels, a multiple of 8
 * @param height         image height in pixels, a multiple of 8
 * @param sampler        the sampler
 * @param schedule       the sigma schedule
 * @param images         how many images, each with its own seed
 * @param initImage      img2img's starting picture, or null for txt2img
 * @param strength       img2img: how much of the schedule to run from the init image (0..1)
 * @param resize         img2img: how the init image is fitted to width x height
 * @param noise          which random number generator makes the noise
 * @param initLatent     img2img: the VAE posterior's mean (default) or a draw from it
 * @param loras          LoRAs applied for this request, besides those {@code <lora:NAME:WEIGHT>} tags in the prompts name
 * @param sizeConditioning SDXL only: the size conditioning, or null for the default (original and target
 *                       size = the image's, no crop); other models refuse a non-null value
 * @param inpaint        img2img: repaint only the init image's masked part ({@link Inpaint}), or null for all of it
 */
public record GenerationRequest(String prompt, String negativePrompt, long seed, int steps, double cfgScale, int width,
                                int height, Sampler sampler, Schedule schedule, int images, RgbImage initImage,
                                double strength, InitResize resize, NoiseSource noise, InitLatent initLatent, List<Lora> loras,
                                SizeConditioning sizeConditioning, Inpaint inpaint) {
    public static final int MAX_STEPS = 1000;
    public static final int MAX_SIDE = 2048;
    public static final int MAX_IMAGES = 64;
    public static final double MAX_CFG = 30;
    public static final int MAX_LORAS = 32;
    /** The largest seed: seeds are 32-bit unsigned, as AUTOMATIC1111's and InvokeAI's. */
    public static final long MAX_SEED = 0xFFFF_FFFFL;

    public GenerationRequest {
        Objects.requireNonNull(prompt, "prompt");
        negativePrompt = negativePrompt == null ? "" : negativePrompt;
        if (seed < 0 || seed > MAX_SEED) throw new IllegalArgumentException("seed must be between 0 and " + MAX_SEED + ", got " + seed);
        if (steps < 1 || steps > MAX_STEPS) throw new IllegalArgumentException("steps must be between 1 and " + MAX_STEPS + ", got " + steps);
        if (!(cfgScale >= 1 && cfgScale <= MAX_CFG)) throw new IllegalArgumentException("cfg scale must be between 1 and " + MAX_CFG + ", got " + cfgScale);
        checkSide("width", width);
        checkSide("height", height);
        Objects.requireNonNull(sampler, "sampler");
        Objects.requireNonNull(schedule, "schedule");
        if (images < 1 || images > MAX_IMAGES) throw new IllegalArgumentException("images must be between 1 and " + MAX_IMAGES + ", got " + images);
        if (!(strength >= 0 && strength <= 1)) throw new IllegalArgumentException("strength must be between 0 and 1, got " + strength);
        if (resize == null) resize = InitResize.CROP;
        if (noise == null) noise = NoiseSource.PHILOX;
        if (initLatent == null) initLatent = InitLatent.MEAN;
        loras = loras == null ? List.of() : List.copyOf(loras);
        if (loras.size() > MAX_LORAS) throw new IllegalArgumentException("at most " + MAX_LORAS + " LoRAs per request, got " + loras.size());
        if (inpaint != null && initImage == null) throw new IllegalArgumentException("inpainting needs an init image");
    }

    private static void checkSide(String what, int value) {
        if (value < 64 || value > MAX_SIDE) throw new IllegalArgumentException(what + " must be between 64 and " + MAX_SIDE + " pixels, got " + value);
        if (value % 8 != 0) throw new IllegalArgumentException(what + " must be a multiple of 8, got " + value);
    }

    public boolean isImg2Img() {
        return initImage != null;
    }

    /** The seed of image {@code index} of the batch: {@code (seed + index) mod 2^32}, wrapping past {@link #MAX_SEED} to 0. */
    public long imageSeed(int index) {
        Objects.checkIndex(index, images);
        return (seed + index) & MAX_SEED;
    }

    /** Sampling steps that actually run: all of them for txt2img, {@code int(steps * strength)} for img2img. */
    public int stepsToRun() {
        return isImg2Img() ? (int) (steps * strength) : steps;
    }

    /** The size conditioning SDXL gets: the given one, or the image's size with no crop. */
    public SizeConditioning sizeConditioningOrDefault() {
        return sizeConditioning != null ? sizeConditioning : SizeConditioning.of(width, height);
    }

    /** Whether the negative prompt and a second UNet pass are needed. */
    public boolean usesGuidance() {
        return cfgScale != 1;
    }

    public Builder toBuilder() {
        return new Builder(this);
    }

    public static Builder builder(String prompt) {
        return new Builder(prompt);
    }

    /** Mutable builder with InvokeAI's defaults. */
    public static final class Builder {
        private String prompt;
        private String negativePrompt = "";
        private long seed = 42;
        private int steps = 50;
        private double cfgScale = 7.5;
        private int width = 512;
        private int height = 512;
        private Sampler sampler = Sampler.LMS;
        private Schedule schedule = Schedule.DISCRETE;
        private int images = 1;
        private RgbImage initImage;
        private double strength = 0.75;
        private InitResize resize = InitResize.CROP;
        private NoiseSource noise = NoiseSource.PHILOX;
        private InitLatent initLatent = InitLatent.MEAN;
        private List<Lora> loras = new ArrayList<>();
        private SizeConditioning sizeConditioning;
        private Inpaint inpaint;

        private Builder(String prompt) {
            this.prompt = prompt;
        }

        private Builder(GenerationRequest r) {
            prompt = r.prompt;
            negativePrompt = r.negativePrompt;
            seed = r.seed;
            steps = r.steps;
            cfgScale = r.cfgScale;
            width = r.width;
            height = r.height;
            sampler = r.sampler;
            schedule = r.schedule;
            images = r.images;
            initImage = r.initImage;
            strength = r.strength;
            resize = r.resize;
            noise = r.noise;
            initLatent = r.initLatent;
            loras = new ArrayList<>(r.loras);
            sizeConditioning = r.sizeConditioning;
            inpaint = r.inpaint;
        }

        public Builder prompt(String v) { prompt = v; return this; }
        public Builder negativePrompt(String v) { negativePrompt = v; return this; }
        public Builder seed(long v) { seed = v; return this; }
        public Builder steps(int v) { steps = v; return this; }
        public Builder cfgScale(double v) { cfgScale = v; return this; }
        public Builder width(int v) { width = v; return this; }
        public Builder height(int v) { height = v; return this; }
        public Builder size(int w, int h) { width = w; height = h; return this; }
        public Builder sampler(Sampler v) { sampler = v; return this; }
        public Builder schedule(Schedule v) { schedule = v; return this; }
        public Builder images(int v) { images = v; return this; }
        public Builder initImage(RgbImage v) { initImage = v; return this; }
        public Builder strength(double v) { strength = v; return this; }
        public Builder resize(InitResize v) { resize = v; return this; }
        public Builder noise(NoiseSource v) { noise = v; return this; }
        public Builder initLatent(InitLatent v) { initLatent = v; return this; }
        public Builder loras(List<Lora> v) { loras = new ArrayList<>(v); return this; }
        public Builder lora(java.nio.file.Path file, double weight) { loras.add(new Lora(file, weight)); return this; }
        public Builder inpaint(Inpaint v) { inpaint = v; return this; }
        /** SDXL's size conditioning; null (the default) = the image's size, no crop. */
        public Builder sizeConditioning(SizeConditioning v) { sizeConditioning = v; return this; }

        public GenerationRequest build() {
            return new GenerationRequest(prompt, negativePrompt, seed, steps, cfgScale, width, height, sampler, schedule,
                    images, initImage, strength, resize, noise, initLatent, loras, sizeConditioning, inpaint);
        }
    }
}
