package dev.ember.cli;

import dev.ember.engine.AddOns;
import dev.ember.engine.FlashAttention;
import dev.ember.engine.GenerationRequest;
import dev.ember.engine.ModelOptions;
import dev.ember.engine.StableDiffusion;
import dev.ember.engine.StepListener;
import dev.ember.engine.WeightType;
import dev.ember.engine.TinyModel;
import dev.ember.engine.model.DType;
import dev.ember.engine.model.FlopCounter;
import dev.ember.engine.model.ModelFormat;
import dev.ember.engine.model.ModelPreset;
import dev.ember.engine.model.ModelSpec;
import dev.ember.engine.model.SyntheticCheckpoint;
import dev.ember.engine.nn.MatmulBenchmark;
import dev.ember.engine.nn.NativeContext;
import dev.ember.engine.nn.TextEncoder;
import dev.ember.engine.nn.Unet;
import dev.ember.engine.nn.Vae;
import dev.ember.engine.lora.LoraState;
import dev.ember.engine.pipeline.LatentCodec;
import dev.ember.engine.pipeline.OnDemand;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.function.DoubleSupplier;
import java.util.function.Supplier;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ember bench}: times the networks of a full-size model on this machine and relates every
 * figure to the work done ({@link FlopCounter}) and to an f32 matrix product measured in the same run
 * (the machine's practical peak). Default model: a synthetic SD 1.5 (or, with {@code --preset sdxl},
 * SDXL) checkpoint in f16, written once to {@code ${EMBER_CACHE:-~/.cache/ember}/models/<preset>-f16.safetensors}.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Time load, text encoder, UNet (per CFG step), VAE decode/encode and txt2img against the machine's GEMM peak.")
final class BenchCommand implements Callable<Integer> {
    private static final int GEMM_SIZE = 2048;
    private static final int GEMM_REPEATS = 5;
    private static final int CONTEXT_TOKENS = 77;

    @Option(names = "--model", description = "Checkpoint to load (default: a synthetic f16 file of --preset in the Ember cache, made if missing).")
    Path model;

    @Option(names = "--preset", defaultValue = "sd15", description = "The synthetic default model: sd15 (2.1 GB) or sdxl (6.9 GB) (default: ${DEFAULT-VALUE}).")
    String preset;

    @Option(names = "--size", defaultValue = "256", description = "Image side in pixels, a multiple of 64 (default: ${DEFAULT-VALUE}).")
    int size;

    @Option(names = "--threads", defaultValue = "0", description = "CPU threads (0 = all cores; default: ${DEFAULT-VALUE}).")
    int threads;

    @Option(names = "--weight-type", defaultValue = "auto", description = "auto, f32, f16, q8_0, q4_0, or ggml's q4_1, q5_0, q5_1, q2_k ... q6_k (default: ${DEFAULT-VALUE}).")
    String weightType;

    @Option(names = "--component", defaultValue = "all",
            description = "text, unet, vae-decode, vae-encode, e2e or all, or several comma-separated (default: ${DEFAULT-VALUE}); also decode (a whole image through the "
                    + "model's decoder and tiling policy), taesd (a TAESD decode, needs --taesd) and lora (LoRA switch costs, needs --lora).")
    String component;

    @Option(names = "--taesd", paramLabel = "FILE", description = "TAESD weights for --component taesd.")
    Path taesd;

    @Option(names = "--lora", paramLabel = "FILE", description = "A LoRA for --component lora.")
    Path lora;

    @Option(names = "--vae-tiling", defaultValue = "auto", paramLabel = "auto|on|off", description = "VAE tiling for --component decode (default: ${DEFAULT-VALUE}).")
    String vaeTiling;

    @Option(names = "--vae-tile-size", defaultValue = "512", paramLabel = "PX", description = "Tile side for --component decode (default: ${DEFAULT-VALUE}).")
    int vaeTileSize;

    @Option(names = "--repeat", defaultValue = "3", description = "Timed calls per figure after one warm-up call (default: ${DEFAULT-VALUE}).")
    int repeat;

    @Option(names = "--steps", defaultValue = "4", description = "Sampling steps of the end-to-end txt2img (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--split-cfg", description = "Also time the CFG step as two batch-1 UNet calls (the lever 'cond+uncond in one batch').")
    boolean splitCfg;

    @Option(names = "--json", description = "Print one JSON object instead of the table.")
    boolean json;

    @Option(names = "--flash-attention", arity = "0..1", fallbackValue = "on", defaultValue = "auto", paramLabel = "auto|on|off",
            description = "ggml's fused attention: auto (on unless the weights are f32), on (also with no value) or off "
                    + "(default: ${DEFAULT-VALUE}).")
    String flashAttention;

    @Option(names = "--no-blas", description = "Keep ggml's BLAS backend off the networks' products (the default, as in StableDiffusion.load).")
    boolean noBlas;

    @Option(names = "--blas", description = "Let ggml's BLAS backend (OpenBLAS, when libember has it) take the networks' f32 products.")
    boolean blas;

    @Option(names = "--low-memory", description = "Low-memory mode: only the UNet stays loaded (text encoder and VAE loaded per figure), "
            + "release the file's pages while copying, free compute buffers after each call.")
    boolean lowMemory;

    @Option(names = "--no-weights-in-place",
            description = "Copy every weight instead of using the model file's mapping in place where the stored type matches (the CPU default).")
    boolean noWeightsInPlace;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** One measured figure: the warm-up call, the timed calls, and its work. */
    record Figure(String name, double firstSeconds, double[] seconds, double flops, long peakRssBytes) {
        double min() {
            return Arrays.stream(seconds).min().orElse(Double.NaN);
        }

        double median() {
            double[] s = seconds.clone();
            Arrays.sort(s);
            return s.length == 0 ? Double.NaN : s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
        }
    }

    @Override
    public Integer call() throws IOException {
        if (size <= 0 || size % 64 != 0) throw new EmberCommand.UsageException("--size must be a positive multiple of 64, got " + size);
        if (repeat < 1) throw new EmberCommand.UsageException("--repeat must be at least 1");
        if (steps < 1) throw new EmberCommand.UsageException("--steps must be at least 1");
        List<String> components = new ArrayList<>();
        for (String c : component.toLowerCase(Locale.ROOT).split(",")) {
            switch (c.strip()) {
                case "all" -> components.addAll(List.of("text", "unet", "vae-decode", "vae-encode", "e2e"));
                case "text", "unet", "vae-decode", "vae-encode", "e2e", "decode", "taesd", "lora" -> components.add(c.strip());
                default -> throw new EmberCommand.UsageException("--component must be text, unet, vae-decode, vae-encode, e2e, decode, taesd, lora "
                        + "or all (several: comma-separated)");
            }
        }
        if (components.contains("taesd") && taesd == null) throw new EmberCommand.UsageException("--component taesd needs --taesd FILE");
        if (components.contains("lora") && lora == null) throw new EmberCommand.UsageException("--component lora needs --lora FILE");
        AddOns addOns;
        try {
            addOns = AddOns.none().withTaesd(taesd).withTiling(AddOns.VaeTiling.parse(vaeTiling)).withTileSize(vaeTileSize);
        } catch (IllegalArgumentException e) {
            throw new EmberCommand.UsageException(e.getMessage());
        }
        ModelPreset defaultPreset = switch (preset.toLowerCase(Locale.ROOT)) {
            case "sd15" -> ModelPreset.SD15;
            case "sdxl" -> ModelPreset.SDXL;
            default -> throw new EmberCommand.UsageException("--preset must be sd15 or sdxl, got '" + preset + "'");
        };
        WeightType wt;
        FlashAttention attention;
        try {
            wt = WeightType.parse(weightType);
            attention = FlashAttention.parse(flashAttention);
        } catch (IllegalArgumentException e) {
            throw new EmberCommand.UsageException(e.getMessage());
        }
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Path path = model != null ? model : defaultModel(err, defaultPreset);

        ModelOptions options = ModelOptions.defaults().withThreads(threads).withWeightType(wt).withFlashAttention(attention).withAddOns(addOns);
        Memory.resetPeak();
        long t0 = System.nanoTime();
        Map<String, Object> result = new LinkedHashMap<>();
        List<Figure> figures = new ArrayList<>();
        try (StableDiffusion sd = StableDiffusion.load(path, options.withBlas(blas && !noBlas).withLowMemory(lowMemory)
                .withWeightsInPlace(!noWeightsInPlace))) {
            double loadSeconds = (System.nanoTime() - t0) / 1e9;
            long rssAfterLoad = Memory.current();
            long peakAfterLoad = Memory.peak();
            int effectiveThreads = sd.context().options().threads() == 0 ? Runtime.getRuntime().availableProcessors() : sd.context().options().threads();
            // The peak is the best f32 GEMM this libember has: on the networks' context, and with BLAS
            // (when built in) even if the networks run without it.
            double gemmSeconds = MatmulBenchmark.seconds(sd.context(), GEMM_SIZE, GEMM_SIZE, GEMM_SIZE, GEMM_REPEATS);
            double contextPeak = 2.0 * GEMM_SIZE * GEMM_SIZE * GEMM_SIZE / gemmSeconds;
            double blasPeak = 0;
            if (!sd.context().options().useBlas()) {
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
                        try (OnDemand.Lease<TextEncoder> text = sd.textEncoder()) {
                            if (ms.text2() == null) {
                                figures.add(time("text encode (batch 2)", FlopCounter.textEncoder(ms.text(), 2, CONTEXT_TOKENS),
                                        () -> text.get().encode(tokens, 2, CONTEXT_TOKENS, 1).length));
                                held.put("text", Held.of(text.get()));
                            } else {
                                // SDXL: CLIP ViT-L and bigG (with its pooled output), as PromptEncoder runs them.
                                try (OnDemand.Lease<TextEncoder> text2 = sd.textEncoder2()) {
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
                        Unet unet = sd.unet();
                        int ch = ms.unet().inChannels();
                        float[] x = gaussian(random, 2 * ch * latent * latent);
                        float[] ctx = gaussian(random, 2 * CONTEXT_TOKENS * ms.unet().contextDim());
                        float[] t = {500f, 500f};
                        // SDXL's vector conditioning (pooled text and sizes); null for SD 1.x/2.x.
                        float[] y = ms.unet().hasVectorConditioning() ? gaussian(random, 2 * ms.unet().admInChannels()) : null;
                        figures.add(time("unet CFG step (batch 2)", FlopCounter.unet(ms.unet(), 2, latent, latent, CONTEXT_TOKENS),
                                () -> unet.forward(x, 2, latent, latent, t, ctx, CONTEXT_TOKENS, y).length));
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
                        try (OnDemand.Lease<Vae> vae = sd.vaeDecoder()) {
                            figures.add(time("vae decode", FlopCounter.vaeDecoder(ms.vae(), 1, size, size),
                                    () -> vae.get().decode(z, 1, latent, latent).length));
                            held.put("vae-decode", Held.of(vae.get()));
                        }
                    }
                    case "vae-encode" -> {
                        float[] image = new float[ms.vae().imageChannels() * size * size];
                        for (int i = 0; i < image.length; i++) image[i] = (float) Math.tanh(random.nextGaussian());
                        try (OnDemand.Lease<Vae> vae = sd.vaeEncoder()) {
                            figures.add(time("vae encode", FlopCounter.vaeEncoder(ms.vae(), 1, size, size),
                                    () -> vae.get().encode(image, 1, size, size).length));
                            held.put("vae-encode", Held.of(vae.get()));
                        }
                    }
                    case "decode" -> {
                        // The public path: the model's decoder, tiled as AddOns / the auto limit decide.
                        MemorySegment z = MemorySegment.ofArray(gaussian(random, ms.vae().latentChannels() * latent * latent));
                        LatentCodec.Plan plan = sd.decodePlan(size, size);
                        result.put("decode_tiled", plan.tiled());
                        result.put("decode_tiles", plan.tiles());
                        result.put("decode_untiled_estimate_bytes", plan.estimatedUntiledBytes());
                        figures.add(time("decode " + (plan.tiled() ? plan.tiles() + " tiles" : "whole"), FlopCounter.vaeDecoder(ms.vae(), 1, size, size),
                                () -> sd.decodePreview(z, latent, latent).width()));
                        try (OnDemand.Lease<Vae> vae = sd.vaeDecoder()) {
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
                            LoraState.Switch sw = sd.lastLoraSwitch();
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
            result.put("weight_type", weightName(sd.unet().stats().weightType()));
            result.put("flash_attention", sd.usesFlashAttention());
            result.put("blas", blas && !noBlas);
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
            result.put("unet_graphs", sd.unet().stats().graphs());

            Figure sum = sumOfParts(figures, steps);
            if (json) {
                out.println(toJson(result, figures, sum, peak));
            } else {
                printTable(out, result, figures, sum, peak);
            }
        }
        out.flush();
        return 0;
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
        Held text = held.containsKey("text") ? held.get("text")
                : sd.spec().text2() == null ? Held.briefly(sd::textEncoder) : Held.briefly(sd::textEncoder).plus(Held.briefly(sd::textEncoder2));
        Held decoder = held.containsKey("vae-decode") ? held.get("vae-decode") : Held.briefly(sd::vaeDecoder);
        Held encoder = held.containsKey("vae-encode") ? held.get("vae-encode") : Held.briefly(sd::vaeEncoder);
        // In the default mode both VAE leases hold the one VAE with both halves: count its weights once.
        long vaeWeights = decoder.bothHalves() ? decoder.weightBytes() : decoder.weightBytes() + encoder.weightBytes();
        Map<String, Long> m = new LinkedHashMap<>();
        m.put("unet_compute_bytes", sd.unet().stats().computeBytes());
        m.put("vae_compute_bytes", Math.max(decoder.computeBytes(), encoder.computeBytes()));
        m.put("text_compute_bytes", text.computeBytes());
        m.put("weight_bytes", sd.unet().stats().weightBytes() + vaeWeights + text.weightBytes());
        return m;
    }

    private Figure time(String name, double flops, DoubleSupplier call) {
        long start = System.nanoTime();
        call.getAsDouble();
        double first = (System.nanoTime() - start) / 1e9;
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

    private void printTable(PrintWriter out, Map<String, Object> r, List<Figure> figures, Figure sum, double peak) {
        out.printf(Locale.ROOT, "model          %s%n", r.get("model"));
        out.printf(Locale.ROOT, "setup          %dx%d, %s threads, weights %s (%s), flash attention %s, BLAS %s, %s mode%n", size, size,
                r.get("threads"), r.get("weight_type"), (boolean) r.get("weights_in_place") ? "in place where the type matches" : "copied",
                (boolean) r.get("flash_attention") ? "on" : "off", blas && !noBlas ? "on (if built)" : "off", lowMemory ? "low-memory" : "fast");
        out.printf(Locale.ROOT, "GEMM peak      %.1f GFLOP/s (%s; networks' context %.1f, BLAS context %.1f)%n", peak / 1e9, r.get("gemm"),
                (double) r.get("gemm_networks_context_gflops"), (double) r.get("gemm_blas_context_gflops"));
        out.printf(Locale.ROOT, "load           %.2f s, RSS after load %s, peak RSS during load %s%n", (double) r.get("load_seconds"),
                gib((long) r.get("rss_after_load_bytes")), gib((long) r.get("peak_rss_during_load_bytes")));
        out.printf(Locale.ROOT, "memory         weights %s%s; compute buffers: unet %s, vae %s, text %s%n", gib((long) r.get("weight_bytes")),
                (boolean) r.get("text_and_vae_per_use") ? " (all networks; only the UNet's stay loaded)" : "",
                gib((long) r.get("unet_compute_bytes")), gib((long) r.get("vae_compute_bytes")), gib((long) r.get("text_compute_bytes")));
        out.printf(Locale.ROOT, "%-34s %9s %9s %9s %9s %8s %7s %10s%n", "figure", "first s", "min s", "median s", "GFLOP", "GFLOP/s", "peak", "peak RSS");
        for (Figure f : figures) row(out, f, peak);
        if (sum != null) {
            row(out, sum, peak);
            for (Figure f : figures) {
                if (f.name().startsWith("txt2img")) {
                    out.printf(Locale.ROOT, "txt2img / sum of parts: %.3f (min), %.3f (median)%n", f.min() / sum.min(), f.median() / sum.min());
                }
            }
        }
        out.printf(Locale.ROOT, "peak RSS (whole run, VmHWM) %s%n", gib(Memory.peakSinceStart()));
    }

    private static void row(PrintWriter out, Figure f, double peak) {
        double rate = f.flops() / f.min();
        // A derived row (the sum of parts) has no first call of its own: a dash, not NaN.
        String first = Double.isNaN(f.firstSeconds()) ? "-" : String.format(Locale.ROOT, "%.3f", f.firstSeconds());
        out.printf(Locale.ROOT, "%-34s %9s %9.3f %9.3f %9.1f %8.1f %6.1f%% %10s%n", f.name(), first, f.min(), f.median(),
                f.flops() / 1e9, rate / 1e9, 100 * rate / peak, f.peakRssBytes() > 0 ? gib(f.peakRssBytes()) : "");
    }

    private static String gib(long bytes) {
        return String.format(Locale.ROOT, "%.2f GiB", bytes / (1024.0 * 1024 * 1024));
    }

    private String toJson(Map<String, Object> r, List<Figure> figures, Figure sum, double peak) {
        StringBuilder s = new StringBuilder("{");
        for (Map.Entry<String, Object> e : r.entrySet()) {
            s.append('"').append(e.getKey()).append("\":").append(jsonValue(e.getValue())).append(',');
        }
        s.append("\"figures\":[");
        List<Figure> all = new ArrayList<>(figures);
        if (sum != null) all.add(sum);
        for (int i = 0; i < all.size(); i++) {
            Figure f = all.get(i);
            if (i > 0) s.append(',');
            s.append(String.format(Locale.ROOT,
                    "{\"name\":%s,\"first_seconds\":%s,\"min_seconds\":%.6f,\"median_seconds\":%.6f,\"seconds\":%s,\"gflop\":%.3f,"
                            + "\"gflops_per_second\":%.3f,\"fraction_of_peak\":%.4f,\"peak_rss_bytes\":%d}",
                    jsonValue(f.name()), Double.isNaN(f.firstSeconds()) ? "null" : String.format(Locale.ROOT, "%.6f", f.firstSeconds()),
                    f.min(), f.median(), Arrays.toString(f.seconds()), f.flops() / 1e9, f.flops() / f.min() / 1e9,
                    f.flops() / f.min() / peak, f.peakRssBytes()));
        }
        s.append("],\"peak_rss_bytes\":").append(Memory.peakSinceStart()).append('}');
        return s.toString();
    }

    private static String jsonValue(Object v) {
        if (v instanceof String str) return '"' + str.replace("\\", "\\\\").replace("\"", "\\\"") + '"';
        if (v instanceof Double d) return String.format(Locale.ROOT, "%.6f", d);
        return String.valueOf(v);
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

    /** The default model of a preset, written once (to a temporary name, then moved) when missing. */
    private static Path defaultModel(PrintWriter err, ModelPreset preset) throws IOException {
        Path dir = TinyModel.cacheRoot().resolve("models");
        Path file = dir.resolve(preset.label() + "-f16.safetensors");
        if (Files.isRegularFile(file)) return file;
        Files.createDirectories(dir);
        err.println("ember bench: writing a synthetic " + preset.spec().architecture().label() + " checkpoint (" + preset.label()
                + ", f16, " + (preset == ModelPreset.SDXL ? "6.9" : "2.1") + " GB) to " + file + " (once)");
        err.flush();
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
