package dev.ember.engine;

import dev.ember.engine.image.LatentPreview;
import dev.ember.engine.image.RgbImage;
import dev.ember.engine.model.Architecture;
import dev.ember.engine.model.Checkpoint;
import dev.ember.engine.model.ModelFiles;
import dev.ember.engine.model.ModelReport;
import dev.ember.engine.model.ModelSpec;
import dev.ember.engine.model.NetworkLayout;
import dev.ember.engine.model.StateDict;
import dev.ember.engine.model.TensorData;
import dev.ember.engine.nn.NativeContext;
import dev.ember.engine.nn.TextEncoder;
import dev.ember.engine.nn.Unet;
import dev.ember.engine.nn.Vae;
import dev.ember.engine.pipeline.Conditioning;
import dev.ember.engine.pipeline.Generation;
import dev.ember.engine.pipeline.ImageTensors;
import dev.ember.engine.pipeline.OnDemand;
import dev.ember.engine.pipeline.PromptEncoder;
import dev.ember.engine.pipeline.VectorConditioning;
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
import java.util.EnumSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
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
 * <p>Memory. By default ({@link ModelOptions#defaults()}) all networks are loaded once. On the CPU they use
 * the checkpoint's own memory for every tensor that already has the type they store it in (weights in
 * place, {@link ModelOptions#withWeightsInPlace(boolean)}: f16 matrix weights of an f16 file, everything
 * f32 of an f32 file) and copy the rest; the checkpoint then stays open (mapped, or for a compressed
 * {@code .ckpt} held in memory) until {@link #close()}, which closes it last, and the file must not change
 * while the model is open (see below). With weights in place off, or on another device, the networks
 * copy all their weights into the device's memory and the checkpoint file is unmapped at the end of
 * {@link #load}. In
 * low-memory mode ({@link ModelOptions#withLowMemory(boolean)}) only the UNet stays resident: the
 * checkpoint stays mapped for the model's life, and the text encoder (when a prompt is not in the
 * prompt cache), the VAE decoder (per decode, {@link #decodePreview} included) and the VAE encoder (per
 * img2img init image) are copied from the mapping when needed and freed right after, the source pages
 * being released again as they are copied. The cost is one copy of that network's weights per use,
 * from the page cache (or from disk if the kernel has dropped those pages). In this mode the file must
 * not change while the model is open: replacing it by a rename is safe, but writing into it or
 * truncating it is not (a truncated mapping faults the JVM). A {@code .ckpt} whose storages are
 * compressed is inflated into memory instead of mapped; holding it for per-use loading would keep the
 * whole model in memory twice, so such a file is loaded as in the default mode (all networks resident;
 * the inflated tensors kept only as far as weights in place need them) with only the native low-memory
 * behaviour. {@link #residentNetworks()} tells what is loaded. With weights in place, low-memory mode's
 * resident UNet also reads its weights from the mapping (clean file pages the kernel may drop and
 * re-read), and the per-use networks take their matching tensors from it without a copy.
 */
public final class StableDiffusion implements AutoCloseable {
    /** The networks of a model, as {@link #residentNetworks()} reports them (TEXT_ENCODER_2: SDXL's OpenCLIP bigG). */
    public enum Network { TEXT_ENCODER, TEXT_ENCODER_2, UNET, VAE_ENCODER, VAE_DECODER }

    private final ModelSpec spec;
    private final ModelReport report;
    private final Path path;
    private final ModelOptions options;
    private final Prediction prediction;
    private final NativeContext context;
    /**
     * The open checkpoint, kept while the model is open because per-use networks load from it or resident ones
     * use its memory in place; null when every network holds its own copy.
     */
    private final Checkpoint checkpoint;
    /** Whether the networks were asked to use the checkpoint's memory in place (CPU only). */
    private final boolean weightsInPlace;
    private final OnDemand<TextEncoder> textEncoder;
    /** SDXL's second text encoder; null for SD 1.x/2.x. */
    private final OnDemand<TextEncoder> textEncoder2;
    private final Unet unet;
    private final OnDemand<Vae> vaeDecoder;
    /** In the default mode the same object as {@link #vaeDecoder}: one VAE with both halves. */
    private final OnDemand<Vae> vaeEncoder;
    private final PromptEncoder prompts;
    private final DiffusionSchedule schedule = DiffusionSchedule.stableDiffusion();
    private volatile boolean closed;

    /**
     * Loads the networks from {@code checkpoint}, and keeps it (to be closed by {@link #close()}) when they load per
     * use or use its memory in place.
     */
    private StableDiffusion(Checkpoint checkpoint, ModelOptions options, ClipTokenizer tokenizer) {
        this.spec = checkpoint.spec();
        this.report = checkpoint.report();
        this.path = checkpoint.path();
        this.options = options;
        this.prediction = options.prediction() != null ? options.prediction() : spec.prediction();
        int clipSkip = options.clipSkip() > 0 ? options.clipSkip() : spec.text().defaultClipSkip();
        if (clipSkip > spec.text().numLayers()) {
            throw new IllegalArgumentException("clip skip " + clipSkip + " exceeds the text encoder's " + spec.text().numLayers() + " layers");
        }
        if (spec.text2() != null && options.clipSkip() > spec.text2().numLayers()) {
            throw new IllegalArgumentException("clip skip " + options.clipSkip() + " exceeds text encoder 2's " + spec.text2().numLayers() + " layers");
        }
        boolean perUse = options.lowMemory() && mostlyMapped(checkpoint.tensors());
        int device = DeviceSelector.resolve(options.device(), Ember.devices());
        boolean inPlace = options.weightsInPlace() && device == -1; // in place on the CPU only
        NativeContext ctx = new NativeContext(new NativeContext.Options(options.threads(), device, options.flashAttention(),
                options.blas(), options.lowMemory(), inPlace));
        int weightType = options.weightType().nativeCode();
        int vaeWeightType = vaeWeightType(spec, weightType);
        StateDict weights = checkpoint.tensors();
        boolean sdxl = spec.text2() != null;
        OnDemand<TextEncoder> text = null, text2 = null;
        Unet un = null;
        OnDemand<Vae> decoder = null, encoder = null;
        try {
            if (perUse) {
                text = OnDemand.perUse("text encoder", () -> new TextEncoder(ctx, spec.text(), weights, weightType));
                if (sdxl) {
                    text2 = OnDemand.perUse("text encoder 2",
                            () -> new TextEncoder(ctx, spec.text2(), weights, weightType, NetworkLayout.TEXT2_ROOT));
                }
                decoder = OnDemand.perUse("VAE decoder", () -> new Vae(ctx, spec.vae(), weights, vaeWeightType, Vae.Parts.DECODER));
                encoder = OnDemand.perUse("VAE encoder", () -> new Vae(ctx, spec.vae(), weights, vaeWeightType, Vae.Parts.ENCODER));
                // Load each once now, one at a time, so that a model libember refuses fails here as in the default mode.
                List<OnDemand<?>> all = new ArrayList<>(List.of(text, decoder, encoder));
                if (text2 != null) all.add(text2);
                for (OnDemand<?> network : all) network.acquire().close();
                un = new Unet(ctx, spec.unet(), weights, weightType);
            } else {
                text = OnDemand.resident("text encoder", new TextEncoder(ctx, spec.text(), weights, weightType));
                if (sdxl) {
                    text2 = OnDemand.resident("text encoder 2", new TextEncoder(ctx, spec.text2(), weights, weightType, NetworkLayout.TEXT2_ROOT));
                }
                un = new Unet(ctx, spec.unet(), weights, weightType);
                decoder = encoder = OnDemand.resident("VAE", new Vae(ctx, spec.vae(), weights, vaeWeightType, Vae.Parts.BOTH));
            }
        } catch (RuntimeException | Error e) {
            closeAll(e, encoder, decoder, un, text2, text, ctx);
            throw e;
        }
        this.context = ctx;
        this.checkpoint = perUse || inPlace ? checkpoint : null;
        this.weightsInPlace = inPlace;
        this.textEncoder = text;
        this.textEncoder2 = text2;
        this.unet = un;
        this.vaeDecoder = decoder;
        this.vaeEncoder = encoder;
        this.prompts = new PromptEncoder(tokenizer, encoders(spec, text, text2, options.clipSkip()));
    }

    /**
     * How the text encoders are used. SD 1.x pads with end-of-text, OpenCLIP (SD 2.x, SDXL's bigG) with 0;
     * SD 1.x/2.x apply the final layer norm to the layer taken, SDXL does not (sgm's hidden states of
     * layer 11 for ViT-L, the penultimate layer for bigG), and bigG gives the pooled vector. A clip skip
     * in the options applies to every encoder; 0 keeps each one's default.
     */
    private static List<PromptEncoder.Encoder> encoders(ModelSpec spec, OnDemand<TextEncoder> text, OnDemand<TextEncoder> text2, int clipSkip) {
        boolean sdxl = text2 != null;
        PadStyle pad = spec.architecture() == Architecture.SD2 ? PadStyle.ZERO : PadStyle.END_OF_TEXT;
        List<PromptEncoder.Encoder> list = new ArrayList<>();
        list.add(new PromptEncoder.Encoder(text, pad, clipSkip > 0 ? clipSkip : spec.text().defaultClipSkip(), !sdxl, false,
                spec.text().hiddenSize()));
        if (sdxl) {
            list.add(new PromptEncoder.Encoder(text2, PadStyle.ZERO, clipSkip > 0 ? clipSkip : spec.text2().defaultClipSkip(), false, true,
                    spec.text2().hiddenSize()));
        }
        return list;
    }

    /**
     * SDXL's VAE overflows f16 (its decoder's activations pass 65504, giving inf and then NaN: the known
     * reason for "fp16-fix" VAEs). Ember's convolutions round their inputs to f16 when the kernels are
     * f16, so the SDXL VAE keeps f32 weights, whatever the file or the weight type: activations then stay
     * f32 throughout. Other VAEs follow the weight type.
     */
    static int vaeWeightType(ModelSpec spec, int weightType) {
        return spec.architecture() == Architecture.SDXL ? WeightType.F32.nativeCode() : weightType;
    }

    /**
     * Whether the tensors are slices of a file mapping (not inflated into memory), so keeping them open costs
     * (almost) no memory: at most 1/64 of the bytes may live in memory (SDXL's transposed bigG projection,
     * 3 MB of 7 GB); a compressed {@code .ckpt}, inflated whole, does not qualify.
     */
    private static boolean mostlyMapped(StateDict tensors) {
        long all = 0, inMemory = 0;
        for (TensorData t : tensors.tensors().values()) {
            all += t.data().byteSize();
            if (!t.data().isMapped()) inMemory += t.data().byteSize();
        }
        return inMemory <= all / 64;
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
        Checkpoint checkpoint = ModelFiles.open(path, options.prediction());
        StableDiffusion sd;
        try {
            sd = new StableDiffusion(checkpoint, options, tokenizer);
        } catch (RuntimeException | Error e) {
            checkpoint.close();
            throw e;
        }
        if (sd.checkpoint == null) checkpoint.close(); // every network holds its own copy: unmap the file now
        // otherwise close() closes it, after the networks that read it
        return sd;
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

    /**
     * As {@link #generate(GenerationRequest, StepListener)}, reporting warnings to {@code warnings} (none at
     * present: prompts longer than 75 tokens are split into chunks, not truncated).
     */
    public GenerationResult generate(GenerationRequest request, StepListener listener, Consumer<String> warnings) {
        ensureOpen();
        Objects.requireNonNull(request, "request");
        Objects.requireNonNull(listener, "listener");
        checkSize(request);
        long start = System.nanoTime();
        Conditioning[] conditioning = conditioning(request);
        float[] initLatent = request.isImg2Img() ? encodeInit(request) : null;
        List<GeneratedImage> images = new ArrayList<>();
        int stepsRun = 0;
        for (int i = 0; i < request.images(); i++) {
            long seed = request.seed() + i;
            Generation run = new Generation(unet, schedule, prediction, spec.unet().inChannels(),
                    request.height() / spec.vae().downscale(), request.width() / spec.vae().downscale());
            Generation.Result r = run.sample(request, i, seed, conditioning[0], conditioning[1], initLatent, listener);
            stepsRun = r.stepsRun();
            images.add(new GeneratedImage(i, seed, decode(r.latent(), request.height(), request.width()), request));
        }
        return new GenerationResult(images, stepsRun, Duration.ofNanos(System.nanoTime() - start));
    }

    /**
     * [cond, uncond] (uncond null without guidance). SDXL: an empty negative prompt conditions on zeros
     * (context and pooled; sgm's force_zero_embeddings, which diffusers and AUTOMATIC1111 use for it), and
     * each prompt gets its vector conditioning: pooled text, then the sizes.
     */
    private Conditioning[] conditioning(GenerationRequest request) {
        boolean sdxl = spec.text2() != null;
        if (!sdxl && request.sizeConditioning() != null) {
            throw new IllegalArgumentException("size conditioning (original size, crop, target size) is for SDXL models; this is "
                    + spec.architecture().label());
        }
        List<String> texts = request.usesGuidance() ? List.of(request.prompt(), request.negativePrompt()) : List.of(request.prompt());
        List<PromptEncoder.Encoded> encoded = prompts.encode(texts);
        Conditioning[] out = new Conditioning[2];
        for (int i = 0; i < encoded.size(); i++) {
            PromptEncoder.Encoded e = encoded.get(i);
            if (sdxl && i == 1 && request.negativePrompt().isEmpty()) e = e.zeroed();
            float[] vector = sdxl ? VectorConditioning.of(e.pooled(), request.sizeConditioningOrDefault(), spec.sizeEmbedDim()) : null;
            out[i] = new Conditioning(e.context(), e.tokens(), vector);
        }
        return out;
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
        float[] moments;
        try (OnDemand.Lease<Vae> vae = vaeEncoder.acquire()) {
            moments = vae.get().encode(ImageTensors.toTensor(fitted), 1, request.height(), request.width());
        }
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
        float[] image;
        try (OnDemand.Lease<Vae> vae = vaeDecoder.acquire()) {
            image = vae.get().decode(unscaled, 1, height / f, width / f);
        }
        requireFinite(image, "the VAE decoder's output", latent);
        return ImageTensors.fromTensor(image, width, height);
    }

    /**
     * Refuses to turn NaN or infinite values into a picture (they would become a black or garbage image
     * without a word): says how many there are and whether the latent was already broken.
     */
    private static void requireFinite(float[] image, String what, float[] latent) {
        int bad = 0;
        for (float v : image) if (!Float.isFinite(v)) bad++;
        if (bad == 0) return;
        int badLatent = 0;
        for (float v : latent) if (!Float.isFinite(v)) badLatent++;
        String cause = badLatent > 0
                ? "the latent it decoded already had " + badLatent + " of " + latent.length + " values non-finite (the sampling diverged)"
                : "the latent was finite, so the VAE overflowed (an f16 VAE that needs f32, e.g. SDXL's without the fp16 fix)";
        throw new EmberException(what + " has " + bad + " non-finite values (NaN or infinity) of " + image.length + "; " + cause
                + "; no image was written");
    }

    /** Full-quality preview of a step's latent (or denoised estimate): a VAE decode. */
    public RgbImage decodePreview(MemorySegment latent, int latentHeight, int latentWidth) {
        ensureOpen();
        f32Check(latent, (long) spec.unet().inChannels() * latentHeight * latentWidth);
        float[] values = latent.toArray(ValueLayout.JAVA_FLOAT);
        int f = spec.vae().downscale();
        return decode(values, latentHeight * f, latentWidth * f);
    }

    /** The latent-to-RGB projection that fits this model's VAE (SDXL's differs from SD 1.x/2.x's). */
    public LatentPreview.Palette previewPalette() {
        return spec.architecture() == Architecture.SDXL ? LatentPreview.Palette.SDXL : LatentPreview.Palette.SD;
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

    /**
     * The text encoder, lent until the returned lease is closed (use try-with-resources). In low-memory
     * mode it is loaded by the first open lease and freed when the last one closes, so hold one lease
     * across calls that should not each pay for loading; otherwise it is the resident encoder.
     *
     * @throws IllegalStateException if the model is closed
     */
    public OnDemand.Lease<TextEncoder> textEncoder() {
        ensureOpen();
        return textEncoder.acquire();
    }

    /**
     * SDXL's second text encoder (OpenCLIP bigG), lent as {@link #textEncoder()} lends the first.
     *
     * @throws IllegalStateException if the model is closed or has no second text encoder (SD 1.x/2.x)
     */
    public OnDemand.Lease<TextEncoder> textEncoder2() {
        ensureOpen();
        if (textEncoder2 == null) throw new IllegalStateException(spec.architecture().label() + " has one text encoder");
        return textEncoder2.acquire();
    }

    /**
     * The image side this model generates by default: 1024 for SDXL, 768 for SD 2.x v-prediction models,
     * 512 otherwise ({@link ModelSpec#defaultImageSize()}, with this model's prediction type).
     */
    public int defaultImageSize() {
        return ModelSpec.defaultImageSize(spec.architecture(), prediction);
    }

    /** A request builder with this model's default image size ({@link #defaultImageSize()}); the rest as {@link GenerationRequest#builder}. */
    public GenerationRequest.Builder requestBuilder(String prompt) {
        int side = defaultImageSize();
        return GenerationRequest.builder(prompt).size(side, side);
    }

    /**
     * The default image side of the model at {@code path} without loading it (its file is read for the
     * architecture only): what {@link #defaultImageSize()} would say after {@link #load}.
     *
     * @param prediction the prediction type override, or null for the file's own
     */
    public static int defaultImageSize(Path path, Prediction prediction) {
        try (Checkpoint c = ModelFiles.inspect(path, prediction)) {
            return c.spec().defaultImageSize();
        }
    }

    /**
     * Whether the UNet runs fused attention: the options' {@link FlashAttention} resolved against the type its
     * matrix weights were stored in (AUTO: unless f32). What an image's metadata should record.
     */
    public boolean usesFlashAttention() {
        ensureOpen();
        int code = unet.stats().weightType();
        for (WeightType t : WeightType.values()) {
            if (t != WeightType.AUTO && t.nativeCode() == code) return options.flashAttention().usedWith(t);
        }
        throw new IllegalStateException("unknown stored weight type " + code);
    }

    /** The UNet, resident in every mode. */
    public Unet unet() {
        return unet;
    }

    /**
     * A VAE that can decode, lent as {@link #textEncoder()} lends the text encoder: in low-memory mode a
     * decoder-only VAE ({@link Vae.Parts#DECODER}) loaded per lease, otherwise the resident VAE with
     * both halves.
     */
    public OnDemand.Lease<Vae> vaeDecoder() {
        ensureOpen();
        return vaeDecoder.acquire();
    }

    /**
     * A VAE that can encode: in low-memory mode an encoder-only VAE ({@link Vae.Parts#ENCODER}) loaded
     * per lease, otherwise the same resident VAE as {@link #vaeDecoder()}.
     */
    public OnDemand.Lease<Vae> vaeEncoder() {
        ensureOpen();
        return vaeEncoder.acquire();
    }

    /**
     * The networks loaded now: all four in the default mode; in low-memory mode the UNet plus those in
     * use at this moment (none between generations). Empty after {@link #close()}.
     */
    public Set<Network> residentNetworks() {
        EnumSet<Network> resident = EnumSet.noneOf(Network.class);
        if (closed) return resident;
        resident.add(Network.UNET);
        if (textEncoder.loaded()) resident.add(Network.TEXT_ENCODER);
        if (textEncoder2 != null && textEncoder2.loaded()) resident.add(Network.TEXT_ENCODER_2);
        if (vaeEncoder.loaded()) resident.add(Network.VAE_ENCODER);
        if (vaeDecoder.loaded()) resident.add(Network.VAE_DECODER);
        return resident;
    }

    public NativeContext context() {
        return context;
    }

    /**
     * Whether the networks use the checkpoint's memory in place (on the CPU with
     * {@link ModelOptions#weightsInPlace()}); the checkpoint is then open until {@link #close()}.
     */
    public boolean weightsInPlace() {
        return weightsInPlace;
    }

    /** Whether this model holds its checkpoint open (weights in place or per-use networks); false after {@link #close()}. */
    public boolean holdsCheckpoint() {
        return checkpoint != null && !checkpoint.isClosed();
    }

    private void ensureOpen() {
        if (closed) throw new IllegalStateException("model is closed");
    }

    /** Frees the networks (those loaded per use included), the native context, then the checkpoint's mapping. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        closeAll(null, vaeEncoder == vaeDecoder ? null : vaeEncoder, vaeDecoder, unet, textEncoder2, textEncoder, context, checkpoint);
    }

    /** Closes each non-null resource in order, even if one fails; failures are added to {@code failure} or the first is thrown. */
    private static void closeAll(Throwable failure, AutoCloseable... resources) {
        Throwable first = failure;
        for (AutoCloseable r : resources) {
            if (r == null) continue;
            try {
                r.close();
            } catch (Exception | Error e) {
                if (first == null) first = e;
                else first.addSuppressed(e);
            }
        }
        if (failure == null && first != null) {
            if (first instanceof RuntimeException re) throw re;
            if (first instanceof Error er) throw er;
            throw new IllegalStateException(first);
        }
    }
}
