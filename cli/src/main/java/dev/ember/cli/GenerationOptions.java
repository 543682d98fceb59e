package dev.ember.cli;

import dev.ember.engine.AddOns;
import dev.ember.engine.Ember;
import dev.ember.engine.Lora;
import dev.ember.engine.metadata.AddOnsRecord;
import dev.ember.engine.GenerationRequest;
import dev.ember.engine.InitLatent;
import dev.ember.engine.InitResize;
import dev.ember.engine.SizeConditioning;
import dev.ember.engine.StableDiffusion;
import dev.ember.engine.WeightType;
import dev.ember.engine.noise.NoiseSource;
import dev.ember.engine.sampling.Prediction;
import dev.ember.engine.sampling.Sampler;
import dev.ember.engine.sampling.Schedule;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import picocli.CommandLine.Option;
import dev.ember.engine.metadata.PngMetadata;
import dev.ember.engine.metadata.ImageParameters;
import dev.ember.engine.TinyModel;

/**
 * The options txt2img and img2img share (a picocli mixin), with InvokeAI's short switches where they do
 * not clash. Every value is nullable so that {@link #resolve} can tell "given on the command line" from
 * "not given": given values win over the ones recorded in a {@code --from-image} PNG, which win over
 * {@link GenerationRequest.Builder}'s defaults (InvokeAI's).
 *
 * <p>Names (sampler, schedule, ...) stay strings until resolved, so an unknown one is reported as bad
 * usage (exit 2) in one line, while the same unknown name read from a file's metadata is bad input (exit 1).
 */
final class GenerationOptions {
    @Option(names = {"-p", "--prompt"}, paramLabel = "TEXT", description = "What to draw.")
    String prompt;

    @Option(names = "--negative", paramLabel = "TEXT", description = "What to steer away from (default: none).")
    String negative;

    @Option(names = "--model", paramLabel = "PATH",
            description = "SD 1.x/2.x or SDXL checkpoint (.safetensors, .ckpt, .gguf) or diffusers folder (default: Ember's tiny synthetic model, which draws noise).")
    Path model;

    @Option(names = {"-S", "--seed"}, paramLabel = "N",
            description = "Seed of the first image, 0 to 4294967295; image i uses seed + i, wrapping to 0 after 4294967295. "
                    + "-1 or none: random (printed).")
    Long seed;

    @Option(names = {"-s", "--steps"}, paramLabel = "N", description = "Sampling steps of the full schedule (default: 50).")
    Integer steps;

    @Option(names = {"-W", "--width"}, paramLabel = "PX", description = "Width, a multiple of 8 (default: the model's: 1024 for SDXL, 768 for SD 2.x v-models, else 512).")
    Integer width;

    @Option(names = {"-H", "--height"}, paramLabel = "PX", description = "Height, a multiple of 8 (default: the model's, as --width).")
    Integer height;

    @Option(names = {"-C", "--cfg"}, paramLabel = "SCALE", description = "Classifier-free guidance scale, 1..30 (default: 7.5).")
    Double cfg;

    @Option(names = {"-A", "--sampler"}, paramLabel = "NAME",
            description = "lms, euler, euler_a, heun, dpm2, dpmpp_2m, dpmpp_2s_a, dpmpp_sde, lcm, ddim, or InvokeAI's k_* names (default: lms).")
    String sampler;

    @Option(names = "--schedule", paramLabel = "NAME",
            description = "Sigma schedule: discrete (alias normal), karras, exponential, sgm_uniform, simple or trailing "
                    + "(Turbo models: trailing or sgm_uniform) (default: discrete).")
    String schedule;

    @Option(names = "--original-size", paramLabel = "WxH",
            description = "SDXL: the original size it is conditioned on (default: the image size; smaller imitates low-resolution sources).")
    String originalSize;

    @Option(names = "--crop-top-left", paramLabel = "TOP,LEFT", description = "SDXL: the crop it is conditioned on (default: 0,0).")
    String cropTopLeft;

    @Option(names = "--target-size", paramLabel = "WxH", description = "SDXL: the target size it is conditioned on (default: the image size).")
    String targetSize;

    @Option(names = "--noise", paramLabel = "philox|mt19937",
            description = "Noise generator: philox (torch on CUDA, A1111's GPU seeds) or mt19937 (torch on CPU) (default: philox).")
    String noise;

    @Option(names = {"-n", "--images"}, paramLabel = "N", description = "Images to make, each with its own seed (default: 1).")
    Integer images;

    @Option(names = "--clip-skip", paramLabel = "N", description = "Text encoder layer counted from the end, 1 = last (default: the model's).")
    Integer clipSkip;

    @Option(names = "--prediction", paramLabel = "eps|v", description = "Override the model's prediction type (SD 2.x 768-v files need v).")
    String prediction;

    @Option(names = "--weight-type", paramLabel = "TYPE",
            description = "auto, f32, f16, q8_0, q4_0, or ggml's q4_1, q5_0, q5_1, q2_k ... q6_k (default: auto: as the file holds them).")
    String weightType;

    @Option(names = "--threads", paramLabel = "N", description = "CPU threads (default: all cores).")
    Integer threads;

    @Option(names = "--flash-attention", negatable = true,
            description = "ggml's fused attention in the UNet: ~22%% faster per step and less memory; results differ slightly "
                    + "(K and V in f16). Default: on unless the weights are f32 (--weight-type f32 keeps every product exact). "
                    + "What was used is recorded in the image's metadata.")
    Boolean flashAttention;

    @Option(names = "--device", paramLabel = "DEVICE", description = "cpu, cuda:0, vulkan:0, metal:0 or a name from 'ember devices' (default: cpu).")
    String device;

    @Option(names = "--no-weights-in-place",
            description = "Copy every weight into Ember's own memory instead of using the model file's mapping (the CPU default: "
                    + "faster load, one copy less, but truncating the file while Ember runs crashes it, and a run whose file changes "
                    + "stops). With this, changes to the file cannot affect the run.")
    boolean noWeightsInPlace;

    @Option(names = "--lora-dir", paramLabel = "DIR",
            description = "Folder (and subfolders) where <lora:NAME:WEIGHT> in a prompt finds NAME.safetensors (.pt, .ckpt, .bin).")
    Path loraDir;

    @Option(names = "--lora", paramLabel = "FILE[:WEIGHT]",
            description = "Apply a LoRA file with a weight (default 1); repeatable. Prompt tags <lora:NAME:WEIGHT> add more.")
    List<String> loras;

    @Option(names = "--embeddings-dir", paramLabel = "DIR",
            description = "Folder of textual-inversion embeddings (.safetensors, .pt, .bin): a file's name in a prompt becomes its vectors.")
    Path embeddingsDir;

    @Option(names = "--vae", paramLabel = "FILE",
            description = "A VAE file or diffusers VAE folder to use instead of the checkpoint's (e.g. vae-ft-mse-840000-ema-pruned).")
    Path vae;

    @Option(names = "--taesd", paramLabel = "FILE",
            description = "TAESD weights (taesd_decoder.safetensors, or a diffusers AutoencoderTiny file or folder) for --preview taesd "
                    + "and --vae-decoder taesd.")
    Path taesd;

    @Option(names = "--vae-decoder", paramLabel = "vae|taesd",
            description = "What decodes the final images: the VAE (full quality) or TAESD (much faster, softer detail) (default: vae).")
    String vaeDecoder;

    @Option(names = "--vae-tiling", paramLabel = "auto|on|off",
            description = "Decode and encode in overlapping tiles: auto (when the untiled decode would need more than 1.5 GiB), on, off "
                    + "(default: auto).")
    String vaeTiling;

    @Option(names = "--vae-tile-size", paramLabel = "PX", description = "Tile side in pixels, a multiple of 64 (default: 512).")
    Integer vaeTileSize;

    @Option(names = "--latents", paramLabel = "DIR",
            description = "Also write each step's latent and denoised estimate as step-NN.safetensors (float32 [1, 4, h, w], sigma and "
                    + "timestep in the metadata). With several images, one subfolder per image.")
    Path latents;

    @Option(names = "--out", paramLabel = "DIR", defaultValue = "outputs",
            description = "Folder for the images, named NNNNNN.SEED.png (default: ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--intermediates", paramLabel = "DIR",
            description = "Also write step-00.png (the starting latent), step-01.png ... and steps.png, a strip of them all. "
                    + "With several images, one subfolder per image, named after its output file.")
    Path intermediates;

    @Option(names = "--intermediates-every", paramLabel = "N", defaultValue = "1",
            description = "Keep every N-th step (step 0 and the last step always) (default: ${DEFAULT-VALUE}).")
    int intermediatesEvery;

    @Option(names = "--preview", paramLabel = "proj|vae|taesd", defaultValue = "proj",
            description = "How intermediates are drawn: proj, the cheap linear latent projection at image size; vae, a full decode; "
                    + "taesd, TAESD's decode (needs --taesd; looks like the result for a small part of a step's time) (default: ${DEFAULT-VALUE}).")
    String preview;

    @Option(names = "--from-image", paramLabel = "PNG",
            description = "Re-run with the parameters recorded in an Ember PNG; options given here override them.")
    Path fromImage;

    @Option(names = "--json", description = "Print the result (files, seeds, parameters, timings) as JSON on stdout.")
    boolean json;

    @Option(names = "--skip-existing",
            description = "Do not make images that --out already holds: same seed and the same recorded parameters and model "
                    + "(to finish an interrupted batch).")
    boolean skipExisting;

    /** The recorded parameters of {@code --from-image}, or null without it. */
    ImageParameters recorded() {
        return fromImage == null ? null : PngMetadata.require(fromImage);
    }

    /** The img2img-only choices, already resolved by the img2img command. */
    record Img2Img(Path initImage, String initSha256, double strength, String resize, Integer stepsFromImage, String initLatent) {}

    /**
     * Every parameter of the run: command line, then {@code recorded} (may be null), then defaults.
     * Notices for the user (random seed, tiny model, computed step count) are added to {@code notices};
     * they are printed only once the request has been checked, so a bad value gives one line.
     *
     * @param img2img null for txt2img
     */
    ImageParameters resolve(ImageParameters recorded, Img2Img img2img, List<String> notices) {
        GenerationRequest d = GenerationRequest.builder("").build();
        ImageParameters r = recorded;
        String promptText = first(prompt, r == null ? null : r.prompt());
        if (promptText == null) throw new EmberCommand.UsageException("missing --prompt (-p): what should the picture show?");

        boolean random = seed != null && seed == RANDOM_SEED;
        if (seed != null && !random && (seed < 0 || seed > GenerationRequest.MAX_SEED)) {
            throw new EmberCommand.UsageException("--seed must be between 0 and " + GenerationRequest.MAX_SEED + ", or -1 for a random seed; got " + seed);
        }
        long seedValue;
        if (seed != null && !random) seedValue = seed;
        else if (seed == null && r != null) seedValue = r.seed();
        else {
            // A1111's and InvokeAI's range: 32 bits, which both noise generators use in full.
            seedValue = new SecureRandom().nextLong() & GenerationRequest.MAX_SEED;
            notices.add("ember: seed " + seedValue + " (random; --seed " + seedValue + " repeats it)");
        }

        int stepCount = first(steps, r == null ? null : r.steps(), d.steps());
        Double strength = null;
        String resize = null;
        if (img2img != null) {
            strength = img2img.strength();
            resize = img2img.resize();
            if (img2img.stepsFromImage() != null) {
                if (steps != null) throw new EmberCommand.UsageException("give either --steps or --steps-from-image, not both");
                stepCount = StepsFromImage.totalSteps(img2img.stepsFromImage(), strength);
                notices.add("ember: --steps-from-image " + img2img.stepsFromImage() + " at strength " + strength + ": "
                        + stepCount + " steps in all, the last " + img2img.stepsFromImage() + " of them run from the image");
            }
        }

        String modelPath;
        String preset = null;
        Long modelSize;
        if (model != null) {
            modelPath = model.toAbsolutePath().normalize().toString();
        } else if (r != null && !TinyModel.PRESET.equals(r.modelPreset())) {
            modelPath = r.model();
        } else {
            if (r == null) notices.add(TinyModel.NOTICE);
            modelPath = TinyModel.path().toAbsolutePath().toString();
            preset = TinyModel.PRESET;
        }
        modelSize = ImageParameters.sizeOf(Path.of(modelPath));
        Integer w = first(width, r == null ? null : r.width()), h = first(height, r == null ? null : r.height());
        if (w == null || h == null) {
            // The model's own size (SDXL 1024, SD 2.x v 768, else 512); its file is read for the architecture only.
            String predictionName = name(prediction, r == null ? null : r.prediction(), null, p -> Prediction.parse(p).label());
            int side = StableDiffusion.defaultImageSize(Path.of(modelPath), predictionName == null ? null : Prediction.parse(predictionName));
            if (w == null) w = side;
            if (h == null) h = side;
        }
        SizeConditioning sizes = sizeConditioning(r == null ? null : r.sizeConditioning(), w, h);
        if (model == null && r != null && r.modelSize() != null && modelSize != null && !r.modelSize().equals(modelSize)) {
            notices.add("ember: warning: " + modelPath + " is " + modelSize + " bytes, but the image was made with a model of "
                    + r.modelSize() + " bytes: the result may differ");
        }

        return new ImageParameters(
                img2img == null ? ImageParameters.TXT2IMG : ImageParameters.IMG2IMG,
                promptText,
                first(negative, r == null ? null : r.negativePrompt(), ""),
                seedValue,
                stepCount,
                first(cfg, r == null ? null : r.cfgScale(), d.cfgScale()),
                w,
                h,
                name(sampler, r == null ? null : r.sampler(), d.sampler().id(), s -> Sampler.parse(s).id()),
                name(schedule, r == null ? null : r.schedule(), d.schedule().id(), s -> Schedule.parse(s).id()),
                name(noise, r == null ? null : r.noise(), d.noise().id(), s -> NoiseSource.parse(s).id()),
                first(images, r == null ? null : r.images(), d.images()),
                strength,
                resize,
                img2img == null ? null : img2img.initImage().toAbsolutePath().normalize().toString(),
                img2img == null ? null : img2img.initSha256(),
                first(clipSkip, r == null ? null : r.clipSkip(), 0),
                name(prediction, r == null ? null : r.prediction(), null, s -> Prediction.parse(s).label()),
                modelPath,
                modelSize,
                preset,
                name(weightType, r == null ? null : r.weightType(), WeightType.AUTO.id(), s -> WeightType.parse(s).id()),
                device == null ? "cpu" : device,
                cappedThreads(threads, notices),
                flashAttention != null ? flashAttention : r == null ? null : r.flashAttention(),
                Ember.version(),
                null,
                img2img == null ? null : img2img.initLatent(),
                addOns(r == null ? null : r.addOns(), r != null),
                sizes);
    }

    /** The add-ons: command line, then the recorded ones, then none. A bad value is bad usage (exit 2). */
    private AddOnsRecord addOns(AddOnsRecord recorded, boolean fromImage) {
        AddOns base;
        try {
            base = recorded == null ? AddOns.none() : recorded.toAddOns();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("recorded add-ons: " + e.getMessage(), e);
        }
        try {
            AddOns a = new AddOns(loraDir != null ? loraDir : base.loraDir(), embeddingsDir != null ? embeddingsDir : base.embeddingsDir(),
                    vae != null ? vae : base.vae(), taesd != null ? taesd : base.taesd(),
                    vaeDecoder != null ? AddOns.VaeDecoder.parse(vaeDecoder) : base.decoder(),
                    vaeTiling != null ? AddOns.VaeTiling.parse(vaeTiling) : base.tiling(), vaeTileSize != null ? vaeTileSize : base.tileSize());
            AddOnsRecord record = AddOnsRecord.of(a);
            List<AddOnsRecord.Resource> explicit = new ArrayList<>();
            if (loras != null) {
                for (String l : loras) {
                    Lora lora = parseLora(l);
                    explicit.add(new AddOnsRecord.Resource(lora.name(), lora.file().toAbsolutePath().normalize().toString(), lora.weight(), null, false));
                }
            } else if (recorded != null) {
                recorded.loras().stream().filter(x -> !Boolean.TRUE.equals(x.fromPrompt())).forEach(explicit::add);
            }
            // The fused-attention setting as asked: given now, else as the recorded run asked it, else auto.
            // (An image recorded before this field: null, and its flashAttention decides as it always did.)
            String attention = flashAttention != null ? (flashAttention ? "on" : "off")
                    : recorded != null && recorded.attention() != null ? recorded.attention() : fromImage ? null : "auto";
            return new AddOnsRecord(record.loraDir(), record.embeddingsDir(), explicit, List.of(), record.vae(), null, record.taesd(),
                    record.decoder(), record.tiling(), record.tileSize(), attention);
        } catch (IllegalArgumentException e) {
            throw new EmberCommand.UsageException(e.getMessage());
        }
    }

    /**
     * SDXL's size conditioning: --original-size, --crop-top-left and --target-size over the recorded one,
     * parts given by neither being the image's size and no crop; null when nothing is given or recorded
     * (the engine's default, the same values).
     */
    SizeConditioning sizeConditioning(SizeConditioning recorded, int imageWidth, int imageHeight) {
        if (originalSize == null && cropTopLeft == null && targetSize == null) return recorded;
        SizeConditioning base = recorded != null ? recorded : SizeConditioning.of(imageWidth, imageHeight);
        int[] original = originalSize == null ? new int[] {base.originalWidth(), base.originalHeight()} : pair(originalSize, "x", "--original-size");
        int[] crop = cropTopLeft == null ? new int[] {base.cropTop(), base.cropLeft()} : pair(cropTopLeft, ",", "--crop-top-left");
        int[] target = targetSize == null ? new int[] {base.targetWidth(), base.targetHeight()} : pair(targetSize, "x", "--target-size");
        try {
            return new SizeConditioning(original[0], original[1], crop[0], crop[1], target[0], target[1]);
        } catch (IllegalArgumentException e) {
            throw new EmberCommand.UsageException(e.getMessage());
        }
    }

    private static int[] pair(String value, String separator, String option) {
        String[] parts = value.strip().toLowerCase(java.util.Locale.ROOT).split(java.util.regex.Pattern.quote(separator));
        try {
            if (parts.length == 2) return new int[] {Integer.parseInt(parts[0].strip()), Integer.parseInt(parts[1].strip())};
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new EmberCommand.UsageException(option + " must be two whole numbers as A" + separator + "B, got '" + value + "'");
    }

    /** {@code FILE} or {@code FILE:WEIGHT} (the last colon separates the weight, so Windows drive letters stay). */
    static Lora parseLora(String spec) {
        int colon = spec.lastIndexOf(':');
        if (colon > 1) {
            String weight = spec.substring(colon + 1);
            try {
                return new Lora(Path.of(spec.substring(0, colon)), Double.parseDouble(weight));
            } catch (NumberFormatException e) {
                // not a weight: the colon belongs to the path
            }
        }
        return new Lora(Path.of(spec), 1.0);
    }

    /** {@code --seed -1}: a random seed, as in AUTOMATIC1111 and InvokeAI. */
    static final long RANDOM_SEED = -1;

    /**
     * {@code --threads}: 0 (all cores) when not given; more than the machine's cores is capped to them with a
     * warning (ggml's threads spin: oversubscribing the cores makes every step many times slower).
     */
    static int cappedThreads(Integer given, List<String> notices) {
        if (given == null) return 0;
        int cores = Runtime.getRuntime().availableProcessors();
        if (given > cores) {
            notices.add("ember: warning: --threads " + given + " is more than the " + cores + " cores of this machine; using " + cores);
            return cores;
        }
        return given;
    }

    /** img2img's strength and resize mode: command line, then recorded, then the default. */
    static double strength(Double given, ImageParameters recorded) {
        if (given != null) return given;
        if (recorded != null && recorded.strength() != null) return recorded.strength();
        return GenerationRequest.builder("").build().strength();
    }

    /** img2img's init latent (mean or sample): command line, then recorded, then the default (mean). */
    static String initLatent(String given, ImageParameters recorded) {
        if (given != null) return usageName(given, s -> InitLatent.parse(s).id());
        if (recorded != null && recorded.initLatent() != null) return InitLatent.parse(recorded.initLatent()).id();
        return InitLatent.MEAN.id();
    }

    static String resize(String given, ImageParameters recorded) {
        if (given != null) return usageName(given, s -> InitResize.parse(s).name().toLowerCase(java.util.Locale.ROOT));
        if (recorded != null && recorded.resize() != null) return InitResize.parse(recorded.resize()).name().toLowerCase(java.util.Locale.ROOT);
        return "crop";
    }

    Previews previews() {
        try {
            return Previews.parse(preview);
        } catch (IllegalArgumentException e) {
            throw new EmberCommand.UsageException(e.getMessage());
        }
    }

    /** A name: given (unknown = usage error), else recorded (unknown = bad input), else the default. */
    private static String name(String given, String recorded, String fallback, Function<String, String> canonical) {
        if (given != null) return usageName(given, canonical);
        if (recorded != null) return canonical.apply(recorded);
        return fallback;
    }

    private static String usageName(String given, Function<String, String> canonical) {
        try {
            return canonical.apply(given);
        } catch (IllegalArgumentException e) {
            throw new EmberCommand.UsageException(e.getMessage());
        }
    }

    @SafeVarargs
    private static <T> T first(T... values) {
        for (T v : values) if (v != null) return v;
        return null;
    }
}
