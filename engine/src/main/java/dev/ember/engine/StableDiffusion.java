package dev.ember.engine;

import dev.ember.engine.image.LatentPreview;
import dev.ember.engine.image.RgbImage;
import dev.ember.engine.model.Architecture;
import dev.ember.engine.model.Checkpoint;
import dev.ember.engine.model.ModelFiles;
import dev.ember.engine.model.ModelReport;
import dev.ember.engine.model.ModelSpec;
import dev.ember.engine.nn.NativeContext;
import dev.ember.engine.nn.TextEncoder;
import dev.ember.engine.nn.Unet;
import dev.ember.engine.nn.Vae;
import dev.ember.engine.pipeline.Generation;
import dev.ember.engine.pipeline.ImageTensors;
import dev.ember.engine.pipeline.PromptEncoder;
import dev.ember.engine.sampling.DiffusionSchedule;
import dev.ember.engine.sampling.Prediction;
import dev.ember.engine.text.ClipTokenizer;
import dev.ember.engine.text.PadStyle;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * A Stable Diffusion model loaded once and used for any number of generations:
 *
 * <pre>{@code
 * try (var sd = StableDiffusion.load(Path.of("v1-5.safetensors"), ModelOptions.defaults())) {
 *     var result = sd.generate(GenerationRequest.builder("a photo of a cat").steps(30).build(), StepListener.NONE);
 *     result.images().getFirst().image().writePng(Path.of("cat.png"));
 * }
 * }</pre>
 *
 * <p>Thread safety: {@link #generate} may be called from several threads at once; each call has its
 * own state, and the native networks serialize their compute, so concurrent calls give exactly the
 * images that serial calls give. {@link #close()} must not race with a running generation.
 *
 * <p>The checkpoint file is mapped only while loading: the networks copy their weights into the
 * device's memory, after which the mapping is closed.
 */
public final class StableDiffusion implements AutoCloseable {
    private final ModelSpec spec;
    private final ModelReport report;
    private final Path path;
    private final ModelOptions options;
    private final Prediction prediction;
    private final NativeContext context;
    private final TextEncoder textEncoder;
    private final Unet unet;
    private final Vae vae;
    private final PromptEncoder prompts;
    private final DiffusionSchedule schedule = DiffusionSchedule.stableDiffusion();
    private volatile boolean closed;

    private StableDiffusion(Checkpoint checkpoint, ModelOptions options, ClipTokenizer tokenizer) {
        this.spec = checkpoint.spec();
        this.report = checkpoint.report();
        this.path = checkpoint.path();
        this.options = options;
        this.prediction = options.prediction() != null ? options.prediction() : spec.prediction();
        int device = DeviceSelector.resolve(options.device(), Ember.devices());
        NativeContext ctx = new NativeContext(new NativeContext.Options(options.threads(), device, options.flashAttention(),
                options.blas(), options.lowMemory()));
        TextEncoder text = null;
        Unet un = null;
        try {
            text = new TextEncoder(ctx, spec.text(), checkpoint.tensors(), options.weightType().nativeCode());
            un = new Unet(ctx, spec.unet(), checkpoint.tensors(), options.weightType().nativeCode());
            this.vae = new Vae(ctx, spec.vae(), checkpoint.tensors(), options.weightType().nativeCode(), Vae.Parts.BOTH);
        } catch (RuntimeException e) {
            if (un != null) un.close();
            if (text != null) text.close();
            ctx.close();
            throw e;
        }
        this.context = ctx;
        this.textEncoder = text;
        this.unet = un;
        int clipSkip = options.clipSkip() > 0 ? options.clipSkip() : spec.text().defaultClipSkip();
        if (clipSkip > spec.text().numLayers()) {
            close();
            throw new IllegalArgumentException("clip skip " + clipSkip + " exceeds the text encoder's " + spec.text().numLayers() + " layers");
        }
        PadStyle pad = spec.architecture() == Architecture.SD2 ? PadStyle.ZERO : PadStyle.END_OF_TEXT;
        this.prompts = new PromptEncoder(tokenizer, textEncoder, pad, clipSkip, spec.text().hiddenSize());
    }

    /**
     * Loads a checkpoint: a {@code .safetensors} or {@code .ckpt} file, or a diffusers folder.
     *
     * @throws ModelFileException          the file is missing, unreadable, corrupt or incomplete
     * @throws UnsupportedModelException   a well-formed model of an architecture Ember does not run
     * @throws NativeException             the device could not take the model
     */
    public static StableDiffusion load(Path path, ModelOptions options) {
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(options, "options");
        ClipTokenizer tokenizer = tokenizerFor(path, options);
        try (Checkpoint checkpoint = ModelFiles.open(path, options.prediction())) {
            return new StableDiffusion(checkpoint, options, tokenizer);
        }
    }

    private static ClipTokenizer tokenizerFor(Path model, ModelOptions options) {
        Path source = options.tokenizer();
        if (source == null && Files.isDirectory(model.resolve("tokenizer"))) source = model.resolve("tokenizer");
        if (source == null) return ClipTokenizer.standard();
        if (!Files.exists(source)) throw new ModelFileException(source, "tokenizer not found");
        return Files.isDirectory(source) ? ClipTokenizer.fromDiffusersFolder(source) : ClipTokenizer.fromMergesFile(source);
    }

    /** Runs a request; the listener sees every step of every image (see {@link StepListener}). */
    public GenerationResult generate(GenerationRequest request, StepListener listener) {
        return generate(request, listener, warning -> {});
    }

    /** As {@link #generate(GenerationRequest, StepListener)}, reporting warnings (e.g. a truncated prompt). */
    public GenerationResult generate(GenerationRequest request, StepListener listener, Consumer<String> warnings) {
        ensureOpen();
        Objects.requireNonNull(request, "request");
        Objects.requireNonNull(listener, "listener");
        checkSize(request);
        long start = System.nanoTime();
        List<String> texts = request.usesGuidance() ? List.of(request.prompt(), request.negativePrompt()) : List.of(request.prompt());
        float[] context = prompts.encode(texts, warnings);
        float[] initLatent = request.isImg2Img() ? encodeInit(request) : null;
        List<GeneratedImage> images = new ArrayList<>();
        int stepsRun = 0;
        for (int i = 0; i < request.images(); i++) {
            long seed = request.seed() + i;
            Generation run = new Generation(unet, schedule, prediction, spec.unet().inChannels(),
                    request.height() / spec.vae().downscale(), request.width() / spec.vae().downscale());
            Generation.Result r = run.sample(request, i, seed, context, prompts.tokens(), initLatent, listener);
            stepsRun = r.stepsRun();
            images.add(new GeneratedImage(i, seed, decode(r.latent(), request.height(), request.width()), request));
        }
        return new GenerationResult(images, stepsRun, Duration.ofNanos(System.nanoTime() - start));
    }

    private void checkSize(GenerationRequest request) {
        int multiple = spec.vae().downscale();
        if (request.width() % multiple != 0 || request.height() % multiple != 0) {
            throw new IllegalArgumentException("this model needs width and height that are multiples of " + multiple
                    + ", got " + request.width() + "x" + request.height());
        }
    }

    private float[] encodeInit(GenerationRequest request) {
        RgbImage fitted = ImageTensors.fit(request.initImage(), request.width(), request.height(), request.resize());
        float[] moments = vae.encode(ImageTensors.toTensor(fitted), 1, request.height(), request.width());
        int z = spec.vae().latentChannels();
        int h = request.height() / spec.vae().downscale(), w = request.width() / spec.vae().downscale();
        // The posterior's mean, not a sample: the same init image always gives the same latent.
        float[] latent = new float[z * h * w];
        for (int i = 0; i < latent.length; i++) latent[i] = (float) (moments[i] * spec.vae().scaleFactor());
        return latent;
    }

    private RgbImage decode(float[] latent, int height, int width) {
        float[] unscaled = new float[latent.length];
        for (int i = 0; i < latent.length; i++) unscaled[i] = (float) (latent[i] / spec.vae().scaleFactor());
        int f = spec.vae().downscale();
        float[] image = vae.decode(unscaled, 1, height / f, width / f);
        return ImageTensors.fromTensor(image, width, height);
    }

    /** Full-quality preview of a step's latent (or denoised estimate): a VAE decode. */
    public RgbImage decodePreview(MemorySegment latent, int latentHeight, int latentWidth) {
        ensureOpen();
        f32Check(latent, (long) spec.unet().inChannels() * latentHeight * latentWidth);
        float[] values = latent.toArray(ValueLayout.JAVA_FLOAT);
        int f = spec.vae().downscale();
        return decode(values, latentHeight * f, latentWidth * f);
    }

    /** Cheap preview of a step's latent: SD's linear latent-to-RGB projection, at latent size. */
    public static RgbImage projectionPreview(MemorySegment latent, int latentHeight, int latentWidth) {
        f32Check(latent, 4L * latentHeight * latentWidth);
        return LatentPreview.preview(latent.toArray(ValueLayout.JAVA_FLOAT), latentHeight, latentWidth);
    }

    private static void f32Check(MemorySegment latent, long elements) {
        if (latent.byteSize() != elements * Float.BYTES) {
            throw new IllegalArgumentException("latent has " + latent.byteSize() / Float.BYTES + " values, expected " + elements);
        }
    }

    public ModelSpec spec() {
        return spec;
    }

    public ModelReport report() {
        return report;
    }

    public Path path() {
        return path;
    }

    public ModelOptions options() {
        return options;
    }

    /** The prediction type in use (the model's, or the options' override). */
    public Prediction prediction() {
        return prediction;
    }

    public TextEncoder textEncoder() {
        return textEncoder;
    }

    public Unet unet() {
        return unet;
    }

    public Vae vae() {
        return vae;
    }

    public NativeContext context() {
        return context;
    }

    private void ensureOpen() {
        if (closed) throw new IllegalStateException("model is closed");
    }

    /** Frees the networks and the native context. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        if (vae != null) vae.close();
        if (unet != null) unet.close();
        if (textEncoder != null) textEncoder.close();
        if (context != null) context.close();
    }
}
