package dev.ember.cli;

import dev.ember.engine.metadata.PngMetadata;
import dev.ember.server.LoadGenerator;
import java.io.PrintWriter;
import java.net.URI;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ember bench-serve}: images/minute and latency of a running {@code ember serve} (or any A1111 API) on loopback. */
@Command(name = "bench-serve", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Load-test a server on this machine: CLIENTS clients share REQUESTS one-image txt2img requests,",
                "each client sending its next when the last is answered. Prints images/minute and latency p50/p95/max."})
final class BenchServeCommand implements Callable<Integer> {
    @Option(names = "--url", defaultValue = "http://127.0.0.1:7860", description = "The server, on a loopback address (default: ${DEFAULT-VALUE}).")
    URI url;

    @Option(names = "--clients", defaultValue = "8", description = "Concurrent clients, 1..64 (default: ${DEFAULT-VALUE}).")
    int clients;

    @Option(names = "--requests", defaultValue = "32", description = "Requests in all, one image each (default: ${DEFAULT-VALUE}).")
    int requests;

    @Option(names = {"-W", "--width"}, defaultValue = "256", description = "Width (default: ${DEFAULT-VALUE}).")
    int width;

    @Option(names = {"-H", "--height"}, defaultValue = "256", description = "Height (default: ${DEFAULT-VALUE}).")
    int height;

    @Option(names = {"-s", "--steps"}, defaultValue = "4", description = "Sampling steps (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = {"-A", "--sampler"}, defaultValue = "Euler", description = "A1111 sampler name (default: ${DEFAULT-VALUE}).")
    String sampler;

    @Option(names = {"-C", "--cfg"}, defaultValue = "7", description = "CFG scale (default: ${DEFAULT-VALUE}).")
    double cfg;

    @Option(names = {"-p", "--prompt"}, defaultValue = "a lighthouse at dusk", description = "Prompt (default: ${DEFAULT-VALUE}).")
    String prompt;

    @Option(names = {"-S", "--seed"}, defaultValue = "1000", description = "Seed of request 0; request i uses seed + i (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--timeout", defaultValue = "1800", description = "Stop after this many seconds (default: ${DEFAULT-VALUE}).")
    long timeoutSeconds;

    @Option(names = "--api-auth", paramLabel = "USER:PASS", description = "HTTP Basic credentials.")
    String auth;

    @Option(names = "--json", description = "Print the report as JSON.")
    boolean json;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws InterruptedException {
        LoadGenerator load;
        try {
            load = new LoadGenerator(url, clients, requests, width, height, steps, sampler, cfg, prompt, seed, Duration.ofSeconds(timeoutSeconds), auth);
        } catch (IllegalArgumentException e) {
            throw new EmberCommand.UsageException(e.getMessage());
        }
        LoadGenerator.Report r = load.run();
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            Map<String, Object> doc = new LinkedHashMap<>();
            doc.put("clients", clients);
            doc.put("width", width);
            doc.put("height", height);
            doc.put("steps", steps);
            doc.put("report", r);
            out.println(PngMetadata.toJson(doc));
        } else {
            out.printf(Locale.ROOT, "%d of %d images in %.1f s by %d clients (%dx%d, %d steps): %.2f images/min; latency p50 %.2f s, p95 %.2f s, max %.2f s%n",
                    r.succeeded(), r.requested(), r.seconds(), clients, width, height, steps, r.imagesPerMinute(), r.p50(), r.p95(), r.max());
            r.errors().stream().limit(5).forEach(e -> out.println("  failed: " + e));
        }
        out.flush();
        return r.failed() == 0 && r.succeeded() == r.requested() ? 0 : 1;
    }
}
