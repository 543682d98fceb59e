package dev.ember.engine.bench;

import dev.ember.engine.AddOns;
import dev.ember.engine.FlashAttention;
import dev.ember.engine.GenerationRequest;
import dev.ember.engine.ModelOptions;
import dev.ember.engine.StableDiffusion;
import dev.ember.engine.StepListener;
import dev.ember.engine.TinyModel;
import dev.ember.engine.WeightType;
import dev.ember.engine.lora.LoraState;
import dev.ember.engine.model.DType;
import dev.ember.engine.model.FlopCounter;
import dev.ember.engine.model.ModelFormat;
import dev.ember.engine.model.ModelPreset;
import dev.ember.engine.model.ModelSpec;
import dev.ember.engine.model.SyntheticCheckpoint;
import dev.ember.engine.nn.MatmulBenchmark;
import dev.ember.engine.nn.NativeContext;
import dev.ember.engine.nn.NetworkStats;
import dev.ember.engine.nn.TextEncoder;
import dev.ember.engine.nn.Unet;
import dev.ember.engine.nn.Vae;
import dev.ember.engine.pipeline.LatentCodec;
import dev.ember.engine.pipeline.ModelInternals;
import dev.ember.engine.pipeline.OnDemand;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.DoubleSupplier;
import java.util.function.Supplier;

/**
 * Times the networks of a model on this machine ({@code ember bench}) and relates every figure to the work
 * done ({@link FlopCounter}) and to an f32 matrix product measured in the same run (the machine's
 * practical peak). It lives in the engine because it drives the networks one by one, which only the
 * engine can; tools outside it (the CLI) pass {@link Options} and get a {@link Result}.
 */
public final class Benchmark {
    static final int GEMM_SIZE = 2048;
    static final int GEMM_REPEATS = 5;
    static final int CONTEXT_TOKENS = 77;
    /** What {@link Options#components} may name. */
    public static final Set<String> COMPONENTS = Set.of("text", "unet", "vae-decode", "vae-encode", "e2e", "decode", "taesd", "lora");

    /**
     * What to measure.
     *
     * @param model      the checkpoint, or null for {@code preset}'s synthetic f16 file ({@link #defaultModel})
     * @param components figures in order, each one of {@link #COMPONENTS}
     * @param lora       the LoRA of the "lora" figure (null without it); the "taesd" figure's TAESD comes in {@code addOns}
     * @param repeat     timed calls per figure after one warm-up call; 0 times the first call alone (cold: graph
     *                   building and first-touch of the weights included), for full-size runs too long to repeat
     * @param steps      sampling steps of the end-to-end txt2img
     * @param splitCfg   also time the CFG step as two batch-1 calls
     * @param images     with the UNet, above 1: also time that many images' CFG step as one call of batch 2N and as N calls of batch 2
     */
    public record Options(Path model, ModelPreset preset, int size, int threads, WeightType weightType, FlashAttention flashAttention,
                          AddOns addOns, List<String> components, Path lora, int repeat, int steps, boolean splitCfg, boolean blas,
                          boolean lowMemory, boolean weightsInPlace, int images) {
        public Options {
            Objects.requireNonNull(preset, "preset");
            Objects.requireNonNull(weightType, "weightType");
            Objects.requireNonNull(flashAttention, "flashAttention");
            Objects.requireNonNull(addOns, "addOns");
            components = List.copyOf(components);
            if (size <= 0 || size % 64 != 0) throw new IllegalArgumentException("size must be a positive multiple of 64, got " + size);
            if (repeat < 0) throw new IllegalArgumentException("repeat must be 0 or more, got " + repeat);
            if (steps < 1) throw new IllegalArgumentException("steps must be at least 1, got " + steps);
            if (images < 1 || images > 16) throw new IllegalArgumentException("images must be between 1 and 16, got " + images);
            for (String c : components) {
                if (!COMPONENTS.contains(c)) throw new IllegalArgumentException("unknown component '" + c + "', not one of " + COMPONENTS);
            }
            if (components.contains("taesd") && addOns.taesd() == null) throw new IllegalArgumentException("component taesd needs a TAESD in addOns");
            if (components.contains("lora") && lora == null) throw new IllegalArgumentException("component lora needs a LoRA");
        }
    }

    /**
     * One measured figure.
     *
     * @param name         what was timed
     * @param firstSeconds the warm-up call (NaN for a derived figure)
     * @param seconds      the timed calls
     * @param flops        the work of one call ({@link FlopCounter}), 0 when not counted
     * @param peakRssBytes the resident memory's peak during the figure (0 off Linux)
     */
    public record Figure(String name, double firstSeconds, double[] seconds, double flops, long peakRssBytes) {
        /** The fastest timed call. */
        public double min() {
            return Arrays.stream(seconds).min().orElse(Double.NaN);
        }

        /** The median timed call. */
        public double median() {
            double[] s = seconds.clone();
            Arrays.sort(s);
            return s.length == 0 ? Double.NaN : s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
        }
    }

    /**
     * A run's outcome.
     *
     * @param values             the run's facts by their JSON names (model, size, threads, gemm_peak_gflops, memory, ...)
     * @param figures            the figures in the order measured
     * @param sumOfParts         text + steps x unet + decode (minimums), or null unless all three were measured
     * @param peakFlopsPerSecond the best f32 GEMM of this libember, measured in the same run
     * @param peakRssBytes       the resident memory's peak over the whole process so far (0 off Linux)
     */
    public record Result(Map<String, Object> values, List<Figure> figures, Figure sumOfParts, double peakFlopsPerSecond, long peakRssBytes) {
        public Result {
            values = Collections.unmodifiableMap(new LinkedHashMap<>(values));
            figures = List.copyOf(figures);
        }
    }

    private final Options o;
    private final int repeat;

    private Benchmark(Options options) {
        this.o = options;
        this.repeat = options.repeat();
    }

    /** Loads the model (writing the default one first if needed), measures every figure, closes the model. */
    public static Result run(Options options, Consumer<String> notices) throws IOException {
        return new Benchmark(options).measure(notices);
    }

    private Result measure(Consumer<String> notices) throws IOException {
        int size = o.size(), threads = o.threads(), steps = o.steps();
        boolean splitCfg = o.splitCfg(), blas = o.blas(), lowMemory = o.lowMemory(), weightsInPlace = o.weightsInPlace();
        Path lora = o.lora();
        List<String> components = o.components();
        ModelOptions options = ModelOptions.defaults().withThreads(threads).withWeightType(o.weightType()).withFlashAttention(o.flashAttention())
                .withAddOns(o.addOns());
        Path path = o.model() != null ? o.model() : defaultModel(o.preset(), notices);
        Memory.resetPeak();
        long t0 = System.nanoTime();
        Map<String, Object> result = new LinkedHashMap<>();
        List<Figure> figures = new ArrayList<>();
        try (StableDiffusion sd = StableDiffusion.load(path, options.withBlas(blas).withLowMemory(lowMemory)
                .withWeightsInPlace(weightsInPlace))) {
            double loadSeconds = (System.nanoTime() - t0) / 1e9;
            long rssAfterLoad = Memory.current();
            long peakAfterLoad = Memory.peak();
            NativeContext context = ModelInternals.context(sd);
            int effectiveThreads = context.options().threads() == 0 ? Runtime.getRuntime().availableProcessors() : context.options().threads();
            // The peak is the best f32 GEMM this libember has: on the networks' context, and with BLAS
            // (when built in) even if the networks run without it.
            double gemmSeconds = MatmulBenchmark.seconds(context, GEMM_SIZE, GEMM_SIZE, GEMM_SIZE, GEMM_REPEATS);
            double contextPeak = 2.0 * GEMM_SIZE * GEMM_SIZE * GEMM_SIZE / gemmSeconds;
            double blasPeak = 0;
            if (!context.options().useBlas()) {
                try (NativeContext withBlas = new NativeContext(new NativeContext.Options(threads, -1, false, true))) {
                    blasPeak = MatmulBenchmark.flopsPerSecond(withBlas, GEMM_SIZE, GEMM_SIZE, GEMM_SIZE, GEMM_REPEATS);
                }
            }
            double peak = Math.max(contextPeak, blasPeak);
            ModelSpec ms = sd.spec();
            int f = ms.vae().downscale();
            int latent = size / f;
            Random random = new Random(42);

            // The text encoder's and VAE's stats, read while a figure's lease still holds them (low-memory
            // mode frees them, and their compute bytes with them, when the lease ends).
            Map<String, Held> held = new LinkedHashMap<>();
            for (String c : components) {
                Memory.resetPeak();
                switch (c) {
                    case "text" -> {
                        int[] tokens = tokens(2, CONTEXT_TOKENS);
                        // One lease across the warm-up and timed calls: in low-memory mode the figure times compute, not loading.
                        try (OnDemand.Lease<TextEncoder> text = ModelInternals.textEncoder(sd)) {
                            if (ms.text2() == null) {
                                figures.add(time("text encode (batch 2)", FlopCounter.textEncoder(ms.text(), 2, CONTEXT_TOKENS),
                                        () -> text.get().encode(tokens, 2, CONTEXT_TOKENS, 1).length));
                                held.put("text", Held.of(text.get()));
                            } else {
                                // SDXL: CLIP ViT-L and bigG (with its pooled output), as PromptEncoder runs them.
                                try (OnDemand.Lease<TextEncoder> text2 = ModelInternals.textEncoder2(sd)) {
                                    double work = FlopCounter.textEncoder(ms.text(), 2, CONTEXT_TOKENS) + FlopCounter.textEncoder(ms.text2(), 2, CONTEXT_TOKENS);
                                    figures.add(time("text encode, both (batch 2)", work,
                                            () -> text.get().encode(tokens, 2, CONTEXT_TOKENS, 2, false, false).hidden().length
                                                    + text2.get().encode(tokens, 2, CONTEXT_TOKENS, 2, false, true).hidden().length));
                                    held.put("text", Held.of(text.get()).plus(Held.of(text2.get())));
                                }
                            }
                        }
                    }
                    case "unet" -> {
                        Unet unet = ModelInternals.unet(sd);
                        int ch = ms.unet().inChannels();
                        float[] x = gaussian(random, 2 * ch * latent * latent);
                        float[] ctx = gaussian(random, 2 * CONTEXT_TOKENS * ms.unet().contextDim());
                        float[] t = {500f, 500f};
                        // SDXL's vector conditioning (pooled text and sizes); null for SD 1.x/2.x.
                        float[] y = ms.unet().hasVectorConditioning() ? gaussian(random, 2 * ms.unet().admInChannels()) : null;
                        figures.add(time("unet CFG step (batch 2)", FlopCounter.unet(ms.unet(), 2, latent, latent, CONTEXT_TOKENS),
                                () -> unet.forward(x, 2, latent, latent, t, ctx, CONTEXT_TOKENS, y).length));
                        if (o.images() > 1) {
                            int n = o.images();
                            float[] xs = gaussian(random, 2 * n * ch * latent * latent);
                            float[] cs = gaussian(random, 2 * n * CONTEXT_TOKENS * ms.unet().contextDim());
                            float[] ts = new float[2 * n];
                            Arrays.fill(ts, 500f);
                            float[] ys = y != null ? gaussian(random, 2 * n * ms.unet().admInChannels()) : null;
                            double work = n * FlopCounter.unet(ms.unet(), 2, latent, latent, CONTEXT_TOKENS);
                            Memory.resetPeak();
                            figures.add(time("unet " + n + " images, 1 call of batch " + 2 * n, work,
                                    () -> unet.forward(xs, 2 * n, latent, latent, ts, cs, CONTEXT_TOKENS, ys).length));
                            Memory.resetPeak();
                            figures.add(time("unet " + n + " images, " + n + " calls of batch 2", work, () -> {
                                double total = 0;
                                for (int i = 0; i < n; i++) total += unet.forward(x, 2, latent, latent, t, ctx, CONTEXT_TOKENS, y).length;
                                return total;
                            }));
                        }
                        if (splitCfg) {
                            float[] x1 = Arrays.copyOf(x, ch * latent * latent);
                            float[] c1 = Arrays.copyOf(ctx, CONTEXT_TOKENS * ms.unet().contextDim());
                            float[] y1 = y == null ? null : Arrays.copyOf(y, ms.unet().admInChannels());
                            float[] t1 = {500f};
                            Memory.resetPeak();
                            figures.add(time("unet CFG step as 2 x batch 1", FlopCounter.unet(ms.unet(), 2, latent, latent, CONTEXT_TOKENS),
                                    () -> unet.forward(x1, 1, latent, latent, t1, c1, CONTEXT_TOKENS, y1).length
                                            + unet.forward(x1, 1, latent, latent, t1, c1, CONTEXT_TOKENS, y1).length));
                        }
                    }
                    case "vae-decode" -> {
                        float[] z = gaussian(random, ms.vae().latentChannels() * latent * latent);
                        try (OnDemand.Lease<Vae> vae = ModelInternals.vaeDecoder(sd)) {
                            figures.add(time("vae decode", FlopCounter.vaeDecoder(ms.vae(), 1, size, size),
                                    () -> vae.get().decode(z, 1, latent, latent).length));
                            held.put("vae-decode", Held.of(vae.get()));
                        }
                    }
                    case "vae-encode" -> {
                        float[] image = new float[ms.vae().imageChannels() * size * size];
                        for (int i = 0; i < image.length; i++) image[i] = (float) Math.tanh(random.nextGaussian());
                        try (OnDemand.Lease<Vae> vae = ModelInternals.vaeEncoder(sd)) {
                            figures.add(time("vae encode", FlopCounter.vaeEncoder(ms.vae(), 1, size, size),
                                    () -> vae.get().encode(image, 1, size, size).length));
                            held.put("vae-encode", Held.of(vae.get()));
                        }
                    }
                    case "decode" -> {
                        // The public path: the model's decoder, tiled as AddOns / the auto limit decide.
                        MemorySegment z = MemorySegment.ofArray(gaussian(random, ms.vae().latentChannels() * latent * latent));
                        LatentCodec.Plan plan = ModelInternals.decodePlan(sd, size, size);
                        result.put("decode_tiled", plan.tiled());
                        result.put("decode_tiles", plan.tiles());
                        result.put("decode_untiled_estimate_bytes", plan.estimatedUntiledBytes());
                        figures.add(time("decode " + (plan.tiled() ? plan.tiles() + " tiles" : "whole"), FlopCounter.vaeDecoder(ms.vae(), 1, size, size),
                                () -> sd.decodePreview(z, latent, latent).width()));
                        try (OnDemand.Lease<Vae> vae = ModelInternals.vaeDecoder(sd)) {
                            held.put("vae-decode", Held.of(vae.get()));
                        }
                    }
                    case "taesd" -> {
                        MemorySegment z = MemorySegment.ofArray(gaussian(random, ms.vae().latentChannels() * latent * latent));
                        figures.add(time("taesd decode", FlopCounter.taesdDecoder(size, size), () -> sd.taesdPreview(z, latent, latent).width()));
                    }
                    case "lora" -> {
                        // Switches as generations meet them: a new set (read, merge, hand over), back to none, the set again (cached).
                        GenerationRequest plain = GenerationRequest.builder("a photo of a cat").size(64, 64).steps(1).seed(1).build();
                        GenerationRequest with = plain.toBuilder().lora(lora, 1.0).build();
                        for (String[] step : new String[][] {{"lora switch: new set", "with"}, {"lora switch: back to none", "plain"},
                                {"lora switch: cached set", "with"}}) {
                            long began = System.nanoTime();
                            sd.generate(step[1].equals("with") ? with : plain, StepListener.NONE);
                            double total = (System.nanoTime() - began) / 1e9;
                            LoraState.Switch sw = ModelInternals.lastLoraSwitch(sd);
                            figures.add(new Figure(step[0] + String.format(Locale.ROOT, " (merge %.2f s, hand-over %.2f s, %d weights, %.0f MiB)",
                                    sw.mergeSeconds(), sw.applySeconds(), sw.weights(), sw.bytes() / 1048576.0), total,
                                    new double[] {sw.mergeSeconds() + sw.applySeconds()}, 0, Memory.peak()));
                        }
                    }
                    case "e2e" -> {
                        GenerationRequest request = GenerationRequest.builder("a photo of a cat").size(size, size).steps(steps).seed(1).build();
                        double work = FlopCounter.textEncoder(ms.text(), 2, CONTEXT_TOKENS)
                                + (ms.text2() == null ? 0 : FlopCounter.textEncoder(ms.text2(), 2, CONTEXT_TOKENS))
                                + steps * FlopCounter.unet(ms.unet(), 2, latent, latent, CONTEXT_TOKENS)
                                + FlopCounter.vaeDecoder(ms.vae(), 1, size, size);
                        figures.add(time("txt2img " + size + "x" + size + ", " + steps + " steps", work,
                                () -> sd.generate(request, StepListener.NONE).images().size()));
                    }
                    default -> throw new IllegalStateException(c);
                }
            }

            result.put("model", path.toString());
            result.put("size", size);
            result.put("threads", effectiveThreads);
            NetworkStats unetStats = ModelInternals.unet(sd).stats();
            result.put("weight_type", weightName(unetStats.weightType()));
            result.put("flash_attention", sd.usesFlashAttention());
            result.put("blas", blas);
            result.put("low_memory", lowMemory);
            result.put("weights_in_place", sd.weightsInPlace());
            result.put("gemm_peak_gflops", peak / 1e9);
            result.put("gemm", GEMM_SIZE + "^3 f32, best of " + GEMM_REPEATS);
            result.put("gemm_networks_context_gflops", contextPeak / 1e9);
            result.put("gemm_blas_context_gflops", blasPeak / 1e9);
            result.put("load_seconds", loadSeconds);
            result.put("rss_after_load_bytes", rssAfterLoad);
            result.put("peak_rss_during_load_bytes", peakAfterLoad);
            result.putAll(memory(sd, held));
            // Between figures: false when the networks stay resident (the default mode, or a compressed .ckpt).
            result.put("text_and_vae_per_use", !sd.residentNetworks().contains(StableDiffusion.Network.TEXT_ENCODER));
            result.put("unet_graphs", unetStats.graphs());

            return new Result(result, figures, sumOfParts(figures, steps), peak, Memory.peakSinceStart());
        }
    }

    /**
     * What a text encoder or VAE held while a figure used it, or while a brief lease holds it (when no
     * figure did: the resident network's stats, or a fresh load's weights and no compute yet).
     *
     * @param bothHalves a VAE with encoder and decoder (the default mode's one VAE, lent for both roles)
     */
    record Held(long weightBytes, long computeBytes, boolean bothHalves) {
        static Held of(Object network) {
            return switch (network) {
                case TextEncoder t -> new Held(t.stats().weightBytes(), t.stats().computeBytes(), false);
                case Vae v -> new Held(v.stats().weightBytes(), v.stats().computeBytes(), v.parts() == Vae.Parts.BOTH);
                default -> throw new IllegalArgumentException(String.valueOf(network));
            };
        }

        static Held briefly(Supplier<? extends OnDemand.Lease<?>> lender) {
            try (OnDemand.Lease<?> lease = lender.get()) {
                return of(lease.get());
            }
        }

        /** Two networks held together (SDXL's two text encoders). */
        Held plus(Held other) {
            return new Held(weightBytes + other.weightBytes, computeBytes + other.computeBytes, bothHalves);
        }
    }

    /**
     * {@code unet_compute_bytes}, {@code vae_compute_bytes}, {@code text_compute_bytes} and
     * {@code weight_bytes} (all networks' weights, whether resident or loaded per use), from what the
     * figures' leases held ({@code held}: "text", "vae-decode", "vae-encode"), or from brief leases for
     * the networks no figure used.
     */
    static Map<String, Long> memory(StableDiffusion sd, Map<String, Held> held) {
        Held text = held.get("text");
        if (text == null) {
            text = Held.briefly(() -> ModelInternals.textEncoder(sd));
            if (sd.spec().text2() != null) text = text.plus(Held.briefly(() -> ModelInternals.textEncoder2(sd)));
        }
        Held decoder = held.containsKey("vae-decode") ? held.get("vae-decode") : Held.briefly(() -> ModelInternals.vaeDecoder(sd));
        Held encoder = held.containsKey("vae-encode") ? held.get("vae-encode") : Held.briefly(() -> ModelInternals.vaeEncoder(sd));
        // In the default mode both VAE leases hold the one VAE with both halves: count its weights once.
        long vaeWeights = decoder.bothHalves() ? decoder.weightBytes() : decoder.weightBytes() + encoder.weightBytes();
        Map<String, Long> m = new LinkedHashMap<>();
        NetworkStats unet = ModelInternals.unet(sd).stats();
        m.put("unet_compute_bytes", unet.computeBytes());
        m.put("vae_compute_bytes", Math.max(decoder.computeBytes(), encoder.computeBytes()));
        m.put("text_compute_bytes", text.computeBytes());
        m.put("weight_bytes", unet.weightBytes() + vaeWeights + text.weightBytes());
        return m;
    }

    private Figure time(String name, double flops, DoubleSupplier call) {
        long start = System.nanoTime();
        call.getAsDouble();
        double first = (System.nanoTime() - start) / 1e9;
        if (repeat == 0) return new Figure(name, first, new double[] {first}, flops, Memory.peak());
        double[] seconds = new double[repeat];
        for (int i = 0; i < repeat; i++) {
            start = System.nanoTime();
            call.getAsDouble();
            seconds[i] = (System.nanoTime() - start) / 1e9;
        }
        return new Figure(name, first, seconds, flops, Memory.peak());
    }

    /** text + steps x unet + decode, from the component figures when all three were measured. */
    private static Figure sumOfParts(List<Figure> figures, int steps) {
        Figure text = null, unet = null, decode = null;
        for (Figure f : figures) {
            if (f.name().startsWith("text")) text = f;
            if (f.name().startsWith("unet CFG step (")) unet = f;
            if (f.name().startsWith("vae decode")) decode = f;
        }
        if (text == null || unet == null || decode == null) return null;
        double s = text.min() + steps * unet.min() + decode.min();
        return new Figure("sum of parts (min)", Double.NaN, new double[] {s}, text.flops() + steps * unet.flops() + decode.flops(), 0);
    }

    private static String weightName(int code) {
        try {
            return WeightType.ofNativeCode(code).id();
        } catch (IllegalArgumentException e) {
            return "auto";
        }
    }

    /** CLIP-shaped token rows: start, a few words, end, padded with the end token. */
    private static int[] tokens(int batch, int n) {
        int[] words = {49406, 320, 1125, 539, 320, 2368, 49407};
        int[] t = new int[batch * n];
        for (int b = 0; b < batch; b++) {
            for (int i = 0; i < n; i++) t[b * n + i] = b == 0 && i < words.length ? words[i] : (i == 0 ? 49406 : 49407);
        }
        return t;
    }

    private static float[] gaussian(Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian();
        return a;
    }

    /**
     * The default model of a preset, written once (to a temporary name, then moved) when missing;
     * {@code notices} hears one line before a file is written.
     */
    public static Path defaultModel(ModelPreset preset, Consumer<String> notices) throws IOException {
        Path dir = TinyModel.cacheRoot().resolve("models");
        Path file = dir.resolve(preset.label() + "-f16.safetensors");
        if (Files.isRegularFile(file)) return file;
        Files.createDirectories(dir);
        notices.accept("ember bench: writing a synthetic " + preset.spec().architecture().label() + " checkpoint (" + preset.label()
                + ", f16, " + (preset == ModelPreset.SDXL ? "6.9" : "2.1") + " GB) to " + file + " (once)");
        Path tmp = Files.createTempFile(dir, preset.label() + "-f16", ".tmp");
        try {
            SyntheticCheckpoint.write(preset, tmp, ModelFormat.SAFETENSORS, DType.F16, 0);
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
        return file;
    }

    /** Resident memory from /proc/self/status (Linux); 0 elsewhere. */
    static final class Memory {
        private static long runPeak;

        static long current() {
            return field("VmRSS:");
        }

        /** Peak since the last {@link #resetPeak()}. */
        static long peak() {
            long p = field("VmHWM:");
            runPeak = Math.max(runPeak, p);
            return p;
        }

        static long peakSinceStart() {
            return Math.max(runPeak, peak());
        }

        /** Resets VmHWM to the current RSS (writes 5 to /proc/self/clear_refs); keeps the run's peak. */
        static void resetPeak() {
            peak();
            try {
                Files.writeString(Path.of("/proc/self/clear_refs"), "5");
            } catch (IOException | UncheckedIOException | SecurityException e) {
                // not Linux, or not allowed: peaks are then since the process start
            }
        }

        private static long field(String name) {
            try {
                for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                    if (line.startsWith(name)) {
                        String[] parts = line.substring(name.length()).trim().split("\\s+");
                        return Long.parseLong(parts[0]) * 1024;
                    }
                }
            } catch (IOException | RuntimeException e) {
                return 0;
            }
            return 0;
        }
    }
}
