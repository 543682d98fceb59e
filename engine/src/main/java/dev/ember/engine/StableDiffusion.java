package dev.ember.engine;

import dev.ember.engine.embedding.Embedding;
import dev.ember.engine.embedding.EmbeddingLibrary;
import dev.ember.engine.image.LatentPreview;
import dev.ember.engine.image.RgbImage;
import dev.ember.engine.lora.LoraOriginals;
import dev.ember.engine.lora.LoraState;
import dev.ember.engine.lora.LoraTags;
import dev.ember.engine.lora.LoraTargets;
import dev.ember.engine.model.Architecture;
import dev.ember.engine.model.Checkpoint;
import dev.ember.engine.model.DType;
import dev.ember.engine.model.ModelFileWatch;
import dev.ember.engine.model.ModelFiles;
import dev.ember.engine.model.ModelReport;
import dev.ember.engine.model.ModelSpec;
import dev.ember.engine.model.NamedFiles;
import dev.ember.engine.model.NetworkLayout;
import dev.ember.engine.model.PositionalTensors;
import dev.ember.engine.model.StateDict;
import dev.ember.engine.model.TensorData;
import dev.ember.engine.model.VaeConfig;
import dev.ember.engine.nn.NativeContext;
import dev.ember.engine.nn.Taesd;
import dev.ember.engine.nn.TextEncoder;
import dev.ember.engine.nn.Unet;
import dev.ember.engine.nn.Vae;
import dev.ember.engine.pipeline.AddOnFiles;
import dev.ember.engine.pipeline.Conditioning;
import dev.ember.engine.pipeline.EncodedInit;
import dev.ember.engine.pipeline.Generation;
import dev.ember.engine.pipeline.ImageTensors;
import dev.ember.engine.pipeline.Inpainting;
import dev.ember.engine.pipeline.LatentCodec;
import dev.ember.engine.pipeline.ModelInternals;
import dev.ember.engine.pipeline.OnDemand;
import dev.ember.engine.pipeline.PromptEncoder;
import dev.ember.engine.pipeline.UnetBatcher;
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
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;

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
 *
 * <p>File changes. All of the above is {@link ModelFileAccess#MAPPED}, the default: each {@link #generate}
 * checks the file before it starts and before it hands out each image and throws
 * {@link ModelFileChangedException} once it has changed. {@link ModelFileAccess#COPIED}
 * ({@code withWeightsInPlace(false)}) keeps no mapping: for servers and other long-lived users, a truncated or
 * rewritten file can then neither crash the JVM nor change a picture (low-memory mode reads its per-use
 * networks with checked positional reads). See {@link ModelFileAccess}.
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
    /** The model's files, open from before loading: the fingerprint, change checks and positional reads. */
    private final ModelFileWatch files;
    /** Whether images depend on the file's mapping (in place or per use), so each is checked against a change. */
    private final boolean readsMapping;
    /** Whether {@link #files} stays open after loading: for change checks, or for positional reads of per-use networks. */
    private final boolean keepsFilesOpen;
    private final OnDemand<TextEncoder> textEncoder;
    /** SDXL's second text encoder; null for SD 1.x/2.x. */
    private final OnDemand<TextEncoder> textEncoder2;
    private final Unet unet;
    private final OnDemand<Vae> vaeDecoder;
    /** In the default mode the same object as {@link #vaeDecoder}: one VAE with both halves. */
    private final OnDemand<Vae> vaeEncoder;
    private final PromptEncoder prompts;
    /** The training schedule sampling uses: the checkpoint's own alphas_cumprod, or SD's betas. */
    private final DiffusionSchedule schedule;
    private final String scheduleSource;
    /** The separate VAE, TAESD and embedding folder of the options' {@link AddOns}. */
    private final AddOnFiles addOnFiles;
    private final Taesd taesd;
    private final LatentCodec codec;
    private final LoraState loras;
    /** LoRA originals when the checkpoint is not held: a watch of the file and its layout, opened when first needed. */
    private LoraOriginals originals;
    private volatile boolean closed;

    /**
     * Loads the networks from {@code checkpoint}, and keeps it (to be closed by {@link #close()}) when they load per
     * use or use its memory in place.
     */
    /** File extensions a LoRA named in a prompt may have. */
    private static final Set<String> LORA_EXTENSIONS = Set.of("safetensors", "pt", "ckpt", "bin");

    static {
        // Ember's own tools reach the internals through ModelInternals (not exported), not through public methods.
        ModelInternals.install(new Internals());
    }

    private StableDiffusion(Checkpoint checkpoint, ModelOptions options, ClipTokenizer tokenizer, ModelFileWatch files) {
        this.spec = checkpoint.spec();
        this.report = checkpoint.report();
        this.path = checkpoint.path();
        this.schedule = checkpoint.schedule();
        this.scheduleSource = checkpoint.scheduleSource();
        this.options = options;
        this.prediction = options.prediction() != null ? options.prediction() : spec.prediction();
        int clipSkip = options.clipSkip() > 0 ? options.clipSkip() : spec.text().defaultClipSkip();
        if (clipSkip > spec.text().numLayers()) {
            throw new IllegalArgumentException("clip skip " + clipSkip + " exceeds the text encoder's " + spec.text().numLayers() + " layers");
        }
        if (spec.text2() != null && options.clipSkip() > spec.text2().numLayers()) {
            throw new IllegalArgumentException("clip skip " + options.clipSkip() + " exceeds text encoder 2's " + spec.text2().numLayers() + " layers");
        }
        boolean sdxl = spec.text2() != null;
        boolean perUse = options.lowMemory() && mostlyMapped(checkpoint.tensors());
        boolean copied = options.fileAccess() == ModelFileAccess.COPIED;
        StateDict weights = checkpoint.tensors();
        // COPIED: per-use networks are read again from the files, not the mapping; if some tensor cannot be
        // located in a file, all networks stay resident instead.
        PositionalTensors textSource = null, text2Source = null, decoderSource = null, encoderSource = null;
        if (perUse && copied) {
            ConcurrentHashMap<String, Long> checksums = new ConcurrentHashMap<>();
            textSource = PositionalTensors.locate(weights, NetworkLayout.textEncoder(spec.text()), files, checksums);
            if (sdxl) text2Source = PositionalTensors.locate(weights, NetworkLayout.textEncoder2(spec.text2()), files, checksums);
            decoderSource = PositionalTensors.locate(weights, NetworkLayout.vaeDecoder(spec.vae()), files, checksums);
            encoderSource = PositionalTensors.locate(weights, NetworkLayout.vaeEncoder(spec.vae()), files, checksums);
            perUse = textSource != null && (!sdxl || text2Source != null) && decoderSource != null && encoderSource != null;
        }
        int device = DeviceSelector.resolve(options.device(), Ember.devices());
        boolean inPlace = options.weightsInPlace() && device == -1; // in place on the CPU only
        NativeContext ctx = new NativeContext(new NativeContext.Options(options.threads(), device, options.flashAttention(),
                options.blas(), options.lowMemory(), inPlace));
        int weightType = options.weightType().nativeCode();
        int vaeWeightType = vaeWeightType(spec, weightType);
        AddOnFiles extras;
        try {
            extras = AddOnFiles.open(options.addOns(), spec, tokenizer);
        } catch (RuntimeException | Error e) {
            closeAll(e, ctx);
            throw e;
        }
        // A separate VAE is read from its own file (mapped): the checkpoint's positional reads do not apply to it.
        StateDict vaeWeights = extras.vaeWeights(weights);
        VaeConfig vaeConfig = extras.vaeConfig(spec);
        if (options.addOns().vae() != null) decoderSource = encoderSource = null;
        OnDemand<TextEncoder> text = null, text2 = null;
        Unet un = null;
        OnDemand<Vae> decoder = null, encoder = null;
        Taesd tiny = null;
        try {
            if (perUse) {
                // The text encoder takes the LoRA-merged tensors of the set in use over its own (loraOverlay).
                text = OnDemand.perUse("text encoder", loader(weights, textSource,
                        w -> new TextEncoder(ctx, spec.text(), loraOverlay(w), weightType)));
                if (sdxl) {
                    text2 = OnDemand.perUse("text encoder 2", loader(weights, text2Source,
                            w -> new TextEncoder(ctx, spec.text2(), loraOverlay(w), weightType, NetworkLayout.TEXT2_ROOT)));
                }
                decoder = OnDemand.perUse("VAE decoder", loader(vaeWeights, decoderSource,
                        w -> new Vae(ctx, vaeConfig, w, vaeWeightType, Vae.Parts.DECODER)));
                encoder = OnDemand.perUse("VAE encoder", loader(vaeWeights, encoderSource,
                        w -> new Vae(ctx, vaeConfig, w, vaeWeightType, Vae.Parts.ENCODER)));
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
                decoder = encoder = OnDemand.resident("VAE", new Vae(ctx, vaeConfig, vaeWeights, vaeWeightType, Vae.Parts.BOTH));
            }
            if (extras.taesd() != null) tiny = new Taesd(ctx, extras.taesd().config(), extras.taesd().tensors(), weightType, Vae.Parts.DECODER);
        } catch (RuntimeException | Error e) {
            closeAll(e, tiny, encoder, decoder, un, text2, text, ctx, extras);
            throw e;
        }
        if (!perUse && !inPlace) extras.closeFiles(); // every network holds its own copy
        this.context = ctx;
        this.checkpoint = perUse && !copied || inPlace ? checkpoint : null;
        this.weightsInPlace = inPlace;
        this.files = files;
        this.readsMapping = this.checkpoint != null && anyMapped(checkpoint.tensors());
        this.keepsFilesOpen = readsMapping || perUse && copied;
        this.textEncoder = text;
        this.textEncoder2 = text2;
        this.unet = un;
        this.vaeDecoder = decoder;
        this.vaeEncoder = encoder;
        this.addOnFiles = extras;
        this.taesd = tiny;
        this.prompts = new PromptEncoder(tokenizer, encoders(spec, text, text2, options.clipSkip()), extras.embeddings(),
                spec.text().vocabSize());
        boolean f16 = un.stats().weightType() == WeightType.F16.nativeCode();
        this.codec = new LatentCodec(vaeConfig, decoder, encoder, tiny, options.addOns(), isF32(decoder));
        OnDemand<TextEncoder> residentText = perUse ? null : text, residentText2 = perUse ? null : text2;
        Unet networkUnet = un;
        this.loras = new LoraState(LoraTargets.of(spec), this::originalWeights, f16 ? DType.F16 : DType.F32, new LoraState.Sink() {
            @Override
            public void unet(List<TensorData> tensors) {
                networkUnet.setWeights(tensors);
            }

            @Override
            public void text(List<TensorData> tensors) {
                if (residentText == null || tensors.isEmpty()) return; // a per-use encoder is made from loraOverlay
                // SDXL: each encoder takes the tensors under its own root.
                List<TensorData> first = new ArrayList<>(), second = new ArrayList<>();
                for (TensorData t : tensors) (t.name().startsWith(NetworkLayout.TEXT2_ROOT) ? second : first).add(t);
                setWeights(residentText, first);
                setWeights(residentText2, second);
            }

            @Override
            public void textChanged() {
                prompts.clear();
            }
        });
    }

    private static void setWeights(OnDemand<TextEncoder> encoder, List<TensorData> tensors) {
        if (tensors.isEmpty()) return;
        try (OnDemand.Lease<TextEncoder> t = encoder.acquire()) {
            t.get().setWeights(tensors);
        }
    }

    private static boolean isF32(OnDemand<Vae> vae) {
        try (OnDemand.Lease<Vae> v = vae.acquire()) {
            return v.get().stats().weightType() == WeightType.F32.nativeCode();
        }
    }

    /** A per-use text encoder's weights: the checkpoint's, with the LoRA-merged tensors of the set in use over them. */
    private StateDict loraOverlay(StateDict weights) {
        LoraState state = this.loras;
        return state == null ? weights : state.overlay(weights);
    }

    /**
     * The checkpoint's own values of some weights, for merging LoRAs and taking them out again: views of the held
     * checkpoint (MAPPED), or otherwise positional reads of the file, which must still be the one loaded
     * ({@link LoraOriginals}). The caller closes the result.
     *
     * @throws ModelFileChangedException when the file changed since the model was loaded
     */
    private StateDict originalWeights(Set<String> names) {
        if (checkpoint != null) {
            java.util.Map<String, TensorData> view = new java.util.LinkedHashMap<>();
            for (String n : names) view.put(n, checkpoint.tensors().get(n));
            return new StateDict(view, java.lang.foreign.Arena.global());
        }
        LoraOriginals o;
        synchronized (this) {
            if (originals == null) originals = LoraOriginals.open(path, options.prediction(), files.fingerprint());
            o = originals;
        }
        return o.read(names);
    }

    /**
     * Makes a per-use network from the mapped {@code weights}, or, with a {@code source}, from a fresh
     * positional read of its tensors (freed once the network has copied them).
     */
    private static <T> Supplier<T> loader(StateDict weights, PositionalTensors source, Function<StateDict, T> make) {
        if (source == null) return () -> make.apply(weights);
        return () -> {
            try (StateDict read = source.read()) {
                return make.apply(read);
            }
        };
    }

    private static boolean anyMapped(StateDict tensors) {
        for (TensorData t : tensors.tensors().values()) if (t.data().isMapped()) return true;
        return false;
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
        // A model file is watched from before it is read; a folder once it is known to be a model.
        boolean folder = Files.isDirectory(path);
        ModelFileWatch files = folder ? null : ModelFileWatch.open(path);
        Checkpoint checkpoint;
        try {
            checkpoint = ModelFiles.open(path, options.prediction());
        } catch (RuntimeException | Error e) {
            if (files != null) files.close();
            throw e;
        }
        StableDiffusion sd;
        try {
            if (folder) files = ModelFileWatch.open(path);
            sd = new StableDiffusion(checkpoint, options, tokenizer, files);
        } catch (RuntimeException | Error e) {
            checkpoint.close();
            if (files != null) files.close();
            throw e;
        }
        if (sd.checkpoint == null) checkpoint.close(); // every network holds its own copy: unmap the file now
        // otherwise close() closes it, after the networks that read it
        try {
            files.checkUnchanged("while it was being loaded", "load it again");
        } catch (ModelFileChangedException e) {
            sd.close();
            throw e;
        }
        if (!sd.keepsFilesOpen) files.close(); // nothing reads the file any more; its fingerprint stays
        return sd;
    }

    private static ClipTokenizer tokenizerFor(Path model, ModelOptions options) {
        Path source = options.tokenizer();
        if (source == null && Files.isDirectory(model.resolve("tokenizer"))) source = model.resolve("tokenizer");
        if (source == null) return ClipTokenizer.standard();
        if (!Files.exists(source)) throw new ModelFileException(source, "tokenizer not found");
        return Files.isDirectory(source) ? ClipTokenizer.fromDiffusersFolder(source) : ClipTokenizer.fromMergesFile(source);
    }

    /**
     * Runs a request; the listener sees every step of every image and each image as soon as it is done
     * (see {@link StepListener}).
     *
     * @throws ModelFileChangedException with {@link ModelFileAccess#MAPPED}, when the model file has changed
     *     (checked before the first image and before each image is handed out); with
     *     {@link ModelFileAccess#COPIED} in low-memory mode, when a per-use network finds it changed
     */
    public GenerationResult generate(GenerationRequest request, StepListener listener) {
        return generate(request, listener, warning -> {});
    }

    /**
     * As {@link #generate(GenerationRequest, StepListener)}, reporting warnings to {@code warnings} (none at
     * present: prompts longer than 75 tokens are split into chunks, not truncated).
     */
    public GenerationResult generate(GenerationRequest request, StepListener listener, Consumer<String> warnings) {
        return generate(request, listener, warnings, null);
    }

    /**
     * As {@link #generate(GenerationRequest, StepListener, Consumer)}, with this call's UNet evaluations batched
     * together with those of the other calls that pass the same {@code batching} (null: not batched). The images
     * are the ones an unbatched call makes; see {@link Batching}.
     */
    public GenerationResult generate(GenerationRequest request, StepListener listener, Consumer<String> warnings, Batching batching) {
        ensureOpen();
        if (batching != null && batching.model() != this) throw new IllegalArgumentException("the batching belongs to another model");
        Objects.requireNonNull(request, "request");
        Objects.requireNonNull(listener, "listener");
        checkSize(request);
        checkFileUnchanged();
        long start = System.nanoTime();
        LoraTags.Parsed prompt = LoraTags.parse(request.prompt()), negative = LoraTags.parse(request.negativePrompt());
        List<Lora> wanted = lorasOf(request, prompt, negative);
        List<GeneratedImage> images = new ArrayList<>();
        int stepsRun = 0;
        try (LoraState.Lease lease = loras.use(wanted, warnings)) {
            Conditioning[] conditioning = conditioning(request, prompt.text(), negative.text());
            int f = spec.vae().downscale();
            RgbImage fitted = request.isImg2Img() ? fitInit(request, warnings) : null;
            Inpainting inpainting = Inpainting.prepare(request, fitted, codec, f, isInpaintingModel(), warnings);
            EncodedInit init = fitted == null ? null : codec.encode(inpainting == null ? fitted : inpainting.source());
            // A seat batches cond and uncond with other generations' rows: only when they run as one batch of two.
            boolean seated = batching != null && Conditioning.oneBatch(conditioning[0], conditioning[1]);
            for (int i = 0; i < request.images(); i++) {
                long seed = request.imageSeed(i);
                Generation run = new Generation(unet, schedule, prediction, spec.unet().outChannels(), request.height() / f, request.width() / f)
                        .inpainting(inpainting);
                Generation.Result r;
                if (!seated) {
                    r = run.sample(request, i, seed, conditioning[0], conditioning[1], init, listener);
                } else {
                    try (UnetBatcher.Seat seat = batching.batcher().join(request.usesGuidance() ? 2 : 1,
                            request.height() / f, request.width() / f, conditioning[0].tokens())) {
                        r = run.sample(request, i, seed, conditioning[0], conditioning[1], init, listener, seat);
                    }
                }
                stepsRun = r.stepsRun();
                RgbImage picture = codec.decode(r.latent(), request.height() / f, request.width() / f);
                GeneratedImage image = new GeneratedImage(i, seed, inpainting == null ? picture : inpainting.finish(picture), request);
                checkFileUnchanged(); // an image made while the file changed is never handed out
                images.add(image);
                deliver(listener, image);
            }
        }
        return new GenerationResult(images, stepsRun, Duration.ofNanos(System.nanoTime() - start));
    }

    /**
     * [cond, uncond] (uncond null without guidance) for the prompts without their LoRA tags. SDXL: an empty
     * negative prompt conditions on zeros (context and pooled; sgm's force_zero_embeddings, which diffusers
     * and AUTOMATIC1111 use for it), and each prompt gets its vector conditioning: pooled text, then the sizes.
     */
    private Conditioning[] conditioning(GenerationRequest request, String promptText, String negativeText) {
        boolean sdxl = spec.text2() != null;
        if (!sdxl && request.sizeConditioning() != null) {
            throw new IllegalArgumentException("size conditioning (original size, crop, target size) is for SDXL models; this is "
                    + spec.architecture().label());
        }
        List<String> texts = request.usesGuidance() ? List.of(promptText, negativeText) : List.of(promptText);
        List<PromptEncoder.Encoded> encoded = prompts.encode(texts);
        Conditioning[] out = new Conditioning[2];
        for (int i = 0; i < encoded.size(); i++) {
            PromptEncoder.Encoded e = encoded.get(i);
            if (sdxl && i == 1 && negativeText.isEmpty()) e = e.zeroed();
            float[] vector = sdxl ? VectorConditioning.of(e.pooled(), request.sizeConditioningOrDefault(), spec.sizeEmbedDim()) : null;
            out[i] = new Conditioning(e.context(), e.tokens(), vector);
        }
        return out;
    }

    /**
     * The LoRAs a request applies: its own list, then those its prompt and negative prompt name with
     * {@code <lora:NAME:WEIGHT>}, found in {@link AddOns#loraDir()}.
     *
     * @throws IllegalArgumentException for a malformed tag, or a tag without a LoRA folder
     * @throws ModelFileException when no file (or more than one) has the tag's name
     */
    public List<Lora> lorasOf(GenerationRequest request) {
        return lorasOf(request, LoraTags.parse(request.prompt()), LoraTags.parse(request.negativePrompt()));
    }

    private List<Lora> lorasOf(GenerationRequest request, LoraTags.Parsed prompt, LoraTags.Parsed negative) {
        List<Lora> out = new ArrayList<>(request.loras());
        for (LoraTags.Tag tag : java.util.stream.Stream.concat(prompt.tags().stream(), negative.tags().stream()).toList()) {
            Path dir = options.addOns().loraDir();
            if (dir == null) {
                throw new IllegalArgumentException("the prompt names the LoRA '" + tag.name() + "' but no LoRA folder is set (--lora-dir, AddOns.loraDir)");
            }
            out.add(new Lora(NamedFiles.find(dir, tag.name(), LORA_EXTENSIONS, "LoRA"), tag.weight()));
        }
        return out;
    }

    private static void deliver(StepListener listener, GeneratedImage image) {
        try {
            listener.onImage(image);
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new GenerationCancelledException("generation stopped: the image listener threw " + e, e);
        }
    }

    /**
     * With {@link ModelFileAccess#MAPPED} (while the model reads the file's mapping): throws when the file
     * has changed since the model was loaded (size, modification time, sampled content). Cheap: a few
     * small reads. {@code generate} calls it before the first image and before handing out each image.
     *
     * @throws ModelFileChangedException naming the change
     */
    public void checkFileUnchanged() {
        ensureOpen();
        if (readsMapping) files.checkUnchanged("while the model was open", "images made from it now could differ, or the process "
                + "crash: load the model again (ModelFileAccess.COPIED is immune to changes)");
    }

    /**
     * The model's fingerprint, taken from its file(s) when it was loaded: {@value ModelFileWatch#FINGERPRINT_LENGTH}
     * hex digits of a SHA-256 over the size and sampled content ({@link ModelFileWatch}), recorded in each
     * image's metadata.
     */
    public String fileFingerprint() {
        return files.fingerprint();
    }

    /**
     * A new {@link Batching} for this model: generations that pass it batch their UNet calls, at most
     * {@code maxImages} images per call.
     */
    public Batching batching(int maxImages) {
        ensureOpen();
        if (maxImages < 1 || maxImages > GenerationRequest.MAX_IMAGES) {
            throw new IllegalArgumentException("max images per batch must be between 1 and " + GenerationRequest.MAX_IMAGES + ", got " + maxImages);
        }
        UnetBatcher batcher = new UnetBatcher(unet::forward, 2 * maxImages, spec.unet().inChannels(), spec.unet().outChannels(),
                spec.unet().contextDim(), spec.unet().hasVectorConditioning() ? spec.unet().admInChannels() : 0);
        return new Batching(this, batcher, maxImages);
    }

    private void checkSize(GenerationRequest request) {
        int multiple = spec.vae().downscale();
        if (request.width() % multiple != 0 || request.height() % multiple != 0) {
            throw new IllegalArgumentException("this model needs width and height that are multiples of " + multiple
                    + ", got " + request.width() + "x" + request.height());
        }
    }

    /**
     * Whether the model is an inpainting model: its UNet takes {@value Inpainting#MODEL_INPUT_CHANNELS} input channels
     * (latent, mask, masked-image latent), and every request gives it the mask and masked image (the whole picture
     * masked when the request has no mask).
     */
    public boolean isInpaintingModel() {
        return spec.unet().inChannels() == Inpainting.MODEL_INPUT_CHANNELS;
    }

    /** The init image fitted to the output size (the VAE encoder's input, and the picture inpainting pastes back). */
    private RgbImage fitInit(GenerationRequest request, Consumer<String> warnings) {
        RgbImage init = request.initImage();
        if (init.width() * 2 < request.width() || init.height() * 2 < request.height()) {
            warnings.accept("the init image is " + init.width() + "x" + init.height() + ", much smaller than the " + request.width() + "x"
                    + request.height() + " output: it is enlarged more than twice, so the result will look blurred");
        }
        return ImageTensors.fit(request.initImage(), request.width(), request.height(), request.resize());
    }

    /** Full-quality preview of a step's latent (or denoised estimate): a VAE decode. */
    public RgbImage decodePreview(MemorySegment latent, int latentHeight, int latentWidth) {
        ensureOpen();
        f32Check(latent, (long) spec.unet().outChannels() * latentHeight * latentWidth);
        return codec.decode(latent.toArray(ValueLayout.JAVA_FLOAT), latentHeight, latentWidth, AddOns.VaeDecoder.VAE);
    }

    /**
     * TAESD's picture of a step's latent (or denoised estimate): a preview that looks like the final image at a
     * small fraction of a step's time (docs/performance.md has the figure).
     *
     * @throws IllegalStateException when the model was loaded without TAESD ({@link AddOns#taesd()})
     */
    public RgbImage taesdPreview(MemorySegment latent, int latentHeight, int latentWidth) {
        ensureOpen();
        if (!codec.hasTaesd()) throw new IllegalStateException("TAESD previews need TAESD weights (--taesd FILE, AddOns.taesd)");
        f32Check(latent, (long) spec.unet().outChannels() * latentHeight * latentWidth);
        return codec.decode(latent.toArray(ValueLayout.JAVA_FLOAT), latentHeight, latentWidth, AddOns.VaeDecoder.TAESD);
    }

    /** Whether TAESD is loaded (previews and {@link AddOns.VaeDecoder#TAESD}). */
    public boolean hasTaesd() {
        return taesd != null;
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

    /**
     * The training noise schedule the samplers' sigmas come from: the checkpoint's own {@code alphas_cumprod}
     * (f32 or f64) when it has one, as k-diffusion and AUTOMATIC1111 use it, else SD's scaled-linear betas.
     */
    public DiffusionSchedule schedule() {
        return schedule;
    }

    /** Where {@link #schedule()} came from, in words. */
    public String scheduleSource() {
        return scheduleSource;
    }

    /** The prediction type in use (the model's, or the options' override). */
    public Prediction prediction() {
        return prediction;
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
        LoraOriginals again;
        synchronized (this) {
            again = originals;
        }
        // Networks first (they may point at merged LoRA weights and mapped files), then what they read.
        closeAll(null, taesd, vaeEncoder == vaeDecoder ? null : vaeEncoder, vaeDecoder, unet, textEncoder2, textEncoder, context, loras,
                addOnFiles, again, checkpoint, files);
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

    /** What {@link ModelInternals} lends Ember's own code; each method is documented there. */
    private static final class Internals implements ModelInternals.Access {
        @Override
        public Unet unet(StableDiffusion model) {
            return model.unet;
        }

        @Override
        public OnDemand.Lease<TextEncoder> textEncoder(StableDiffusion model) {
            model.ensureOpen();
            return model.textEncoder.acquire();
        }

        @Override
        public OnDemand.Lease<TextEncoder> textEncoder2(StableDiffusion model) {
            model.ensureOpen();
            if (model.textEncoder2 == null) throw new IllegalStateException(model.spec.architecture().label() + " has one text encoder");
            return model.textEncoder2.acquire();
        }

        @Override
        public OnDemand.Lease<Vae> vaeDecoder(StableDiffusion model) {
            model.ensureOpen();
            return model.vaeDecoder.acquire();
        }

        @Override
        public OnDemand.Lease<Vae> vaeEncoder(StableDiffusion model) {
            model.ensureOpen();
            return model.vaeEncoder.acquire();
        }

        @Override
        public NativeContext context(StableDiffusion model) {
            return model.context;
        }

        @Override
        public LatentCodec.Plan decodePlan(StableDiffusion model, int height, int width) {
            return model.codec.plan(model.options.addOns().decoder(), height, width);
        }

        @Override
        public LoraState.Switch lastLoraSwitch(StableDiffusion model) {
            return model.loras.lastSwitch();
        }

        @Override
        public List<Embedding> embeddingsOf(StableDiffusion model, GenerationRequest request) {
            EmbeddingLibrary library = model.addOnFiles.embeddings();
            if (library == null) return List.of();
            java.util.LinkedHashSet<Embedding> used = new java.util.LinkedHashSet<>();
            ClipTokenizer tokenizer = model.prompts.tokenizer();
            for (String text : List.of(request.prompt(), request.negativePrompt())) {
                used.addAll(library.find(tokenizer.tokenize(LoraTags.parse(text).text())));
            }
            return List.copyOf(used);
        }
    }
}
