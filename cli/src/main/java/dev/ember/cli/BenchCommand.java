package dev.ember.cli;

import dev.ember.engine.CpuKernels;
import dev.ember.engine.Ember;
import dev.ember.engine.EmberException;
import dev.ember.engine.AddOns;
import dev.ember.engine.FlashAttention;
import dev.ember.engine.WeightType;
import dev.ember.engine.bench.Benchmark;
import dev.ember.engine.bench.Benchmark.Figure;
import dev.ember.engine.model.ModelPreset;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ember bench}: times the networks of a full-size model on this machine and relates every
 * figure to the work done and to an f32 matrix product measured in the same run (the machine's
 * practical peak); the engine's {@link Benchmark} measures, this class parses and prints. Default model: a synthetic SD 1.5 (or, with {@code --preset sdxl},
 * SDXL) checkpoint in f16, written once to {@code ${EMBER_CACHE:-~/.cache/ember}/models/<preset>-f16.safetensors}.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Time load, text encoder, UNet (per CFG step), VAE decode/encode and txt2img against the machine's GEMM peak.")
final class BenchCommand implements Callable<Integer> {

    @Option(names = "--model", description = "Checkpoint to load (default: a synthetic f16 file of --preset in the Ember cache, made if missing).")
    Path model;

    @Option(names = "--preset", defaultValue = "sd15", description = "The synthetic default model: sd15 (2.1 GB) or sdxl (6.9 GB) (default: ${DEFAULT-VALUE}).")
    String preset;

    @Option(names = "--size", defaultValue = "256", description = "Image side in pixels, a multiple of 64 (default: ${DEFAULT-VALUE}).")
    int size;

    @Option(names = "--threads", defaultValue = "0", description = "CPU threads (0 = all cores; default: ${DEFAULT-VALUE}).")
    int threads;

    @Option(names = "--weight-type", defaultValue = "auto", description = "auto, f32, f16, q8_0, q4_0, bf16 (CPU only), or ggml's q4_1, q5_0, q5_1, q2_k ... q6_k (default: ${DEFAULT-VALUE}).")
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

    @Option(names = "--repeat", defaultValue = "3", description = "Timed calls per figure after one warm-up call; 0 times the first call alone, for runs too long to repeat (default: ${DEFAULT-VALUE}).")
    int repeat;

    @Option(names = "--steps", defaultValue = "4", description = "Sampling steps of the end-to-end txt2img (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--split-cfg", description = "Also time the CFG step as two batch-1 UNet calls (the lever 'cond+uncond in one batch').")
    boolean splitCfg;

    @Option(names = "--images", defaultValue = "1", description = "With the UNet: also time N images' CFG step as one call of batch 2N "
            + "and as N calls of batch 2 (how -n N and server batches could run; default: ${DEFAULT-VALUE}).")
    int images;

    @Option(names = "--json", description = "Print one JSON object instead of the table.")
    boolean json;

    @Option(names = "--flash-attention", arity = "0..1", fallbackValue = "on", defaultValue = "auto", paramLabel = "auto|on|off",
            description = "Fused attention: auto (on unless the weights are f32), on (also with no value) or off "
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

    @Option(names = "--calibrate", description = "Time this CPU's libember variants again (the f16 product and attention they are chosen by), "
            + "remember the fastest for the runs that follow, print the figures and exit.")
    boolean calibrate;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        if (calibrate) return calibrate(spec.commandLine().getOut());
        if (size <= 0 || size % 64 != 0) throw new EmberCommand.UsageException("--size must be a positive multiple of 64, got " + size);
        if (repeat < 0) throw new EmberCommand.UsageException("--repeat must be 0 or more");
        if (steps < 1) throw new EmberCommand.UsageException("--steps must be at least 1");
        if (images < 1 || images > 16) throw new EmberCommand.UsageException("--images must be between 1 and 16");
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
        Benchmark.Result run = Benchmark.run(new Benchmark.Options(model, defaultPreset, size, threads, wt, attention, addOns, components, lora,
                repeat, steps, splitCfg, blas && !noBlas, lowMemory, !noWeightsInPlace, images), line -> {
                    err.println(line);
                    err.flush();
                });
        if (json) {
            out.println(toJson(run.values(), run.figures(), run.sumOfParts(), run.peakFlopsPerSecond(), run.peakRssBytes()));
        } else {
            printTable(out, run.values(), run.figures(), run.sumOfParts(), run.peakFlopsPerSecond(), run.peakRssBytes());
        }
        out.flush();
        return 0;
    }

    /** {@code --calibrate}: the CPU variants measured again, one line each, and the one the next runs use. */
    private int calibrate(PrintWriter out) {
        CpuKernels before = Ember.cpuKernels();
        CpuKernels after;
        try {
            after = Ember.calibrateCpuKernels(threads);
        } catch (IllegalStateException e) {
            throw new EmberException(e.getMessage());
        }
        for (CpuKernels.Measurement m : after.measurements()) out.println("measured  " + m.description());
        out.printf(Locale.ROOT, "chosen    %s (%s)%n", after.variant(),
                after.record() != null ? "remembered in " + after.record() : "could not be remembered: the next run measures again");
        if (!after.variant().equals(before.variant())) {
            out.printf(Locale.ROOT, "          this process ran %s; the runs that follow use %s%n", before.variant(), after.variant());
        }
        out.flush();
        return 0;
    }

    private void printTable(PrintWriter out, Map<String, Object> r, List<Figure> figures, Figure sum, double peak, long peakRss) {
        out.printf(Locale.ROOT, "model          %s%n", r.get("model"));
        CpuKernels cpu = Ember.cpuKernels();
        out.printf(Locale.ROOT, "CPU kernels    %s (%s)%n", cpu.variant(), cpu.how());
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
        out.printf(Locale.ROOT, "peak RSS (whole run, VmHWM) %s%n", gib(peakRss));
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

    private String toJson(Map<String, Object> r, List<Figure> figures, Figure sum, double peak, long peakRss) {
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
        s.append("],\"peak_rss_bytes\":").append(peakRss).append('}');
        return s.toString();
    }

    private static String jsonValue(Object v) {
        if (v instanceof String str) return '"' + str.replace("\\", "\\\\").replace("\"", "\\\"") + '"';
        if (v instanceof Double d) return String.format(Locale.ROOT, "%.6f", d);
        return String.valueOf(v);
    }

}
