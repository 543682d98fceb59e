package dev.ember.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code ember bench-serve}: a bounded load test of a running server on this machine. {@code clients} threads
 * share {@code requests} txt2img requests (one image each, seeds {@code seed + i}), each thread sending its next
 * request when the previous one is answered; the run stops at {@code timeout}. Reports images per minute over
 * the wall time and the latency of each request (p50, p95, max). Talks to loopback addresses only.
 *
 * @param url      the server, e.g. http://127.0.0.1:7860 (loopback only)
 * @param auth     user:password for HTTP Basic, or null
 */
public record LoadGenerator(URI url, int clients, int requests, int width, int height, int steps, String sampler, double cfg,
                            String prompt, long seed, Duration timeout, String auth) {

    /** What a run measured. */
    public record Report(int requested, int succeeded, int failed, double seconds, double imagesPerMinute, double p50, double p95,
                         double max, List<String> errors) {}

    public LoadGenerator {
        Objects.requireNonNull(url, "url");
        if (!"http".equals(url.getScheme())) throw new IllegalArgumentException("--url must be http://, got " + url);
        if (!isLoopback(url.getHost())) throw new IllegalArgumentException("--url must be a loopback address (127.0.0.1, localhost, ::1), got " + url.getHost());
        if (clients < 1 || clients > 64) throw new IllegalArgumentException("clients must be between 1 and 64, got " + clients);
        if (requests < 1 || requests > 10_000) throw new IllegalArgumentException("requests must be between 1 and 10000, got " + requests);
        if (timeout.isNegative() || timeout.isZero()) throw new IllegalArgumentException("timeout must be positive");
    }

    static boolean isLoopback(String host) {
        if (host == null) return false;
        try {
            for (InetAddress a : InetAddress.getAllByName(host.replace("[", "").replace("]", ""))) if (!a.isLoopbackAddress()) return false;
            return true;
        } catch (UnknownHostException e) {
            return false;
        }
    }

    public Report run() throws InterruptedException {
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
        AtomicInteger next = new AtomicInteger();
        List<Double> latencies = Collections.synchronizedList(new ArrayList<>());
        List<String> errors = Collections.synchronizedList(new ArrayList<>());
        long deadline = System.nanoTime() + timeout.toNanos();
        long start = System.nanoTime();
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        List<Future<?>> futures = new ArrayList<>();
        for (int c = 0; c < clients; c++) {
            futures.add(pool.submit(() -> {
                for (int i; (i = next.getAndIncrement()) < requests && System.nanoTime() < deadline; ) {
                    long t0 = System.nanoTime();
                    String error = send(http, i, Duration.ofNanos(Math.max(1, deadline - t0)));
                    if (error == null) latencies.add((System.nanoTime() - t0) / 1e9);
                    else errors.add("request " + i + ": " + error);
                }
            }));
        }
        pool.shutdown();
        if (!pool.awaitTermination(timeout.toSeconds() + 30, TimeUnit.SECONDS)) pool.shutdownNow();
        double seconds = (System.nanoTime() - start) / 1e9;
        List<Double> sorted = new ArrayList<>(latencies);
        Collections.sort(sorted);
        int ok = sorted.size();
        return new Report(requests, ok, errors.size(), seconds, ok / seconds * 60, percentile(sorted, 0.50), percentile(sorted, 0.95),
                ok == 0 ? Double.NaN : sorted.getLast(), List.copyOf(errors));
    }

    /** Sends request {@code i}; null when it came back 200 with one image, else why not. */
    private String send(HttpClient http, int i, Duration left) {
        ObjectNode body = Json.MAPPER.createObjectNode();
        body.put("prompt", prompt).put("seed", seed + i).put("width", width).put("height", height).put("steps", steps)
                .put("sampler_name", sampler).put("cfg_scale", cfg).put("batch_size", 1).put("n_iter", 1);
        HttpRequest.Builder request = HttpRequest.newBuilder(url.resolve("/sdapi/v1/txt2img")).timeout(left)
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body.toString()));
        if (auth != null) request.header("Authorization", "Basic " + Base64.getEncoder().encodeToString(auth.getBytes(StandardCharsets.UTF_8)));
        try {
            HttpResponse<String> response = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
            if (response.statusCode() != 200) return "HTTP " + response.statusCode() + " " + abbreviate(response.body());
            JsonNode images = Json.MAPPER.readTree(response.body()).get("images");
            return images != null && images.size() == 1 ? null : "expected one image, got " + abbreviate(response.body());
        } catch (IOException e) {
            return e.toString();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "interrupted";
        }
    }

    private static String abbreviate(String s) {
        return s.length() <= 200 ? s : s.substring(0, 197) + "...";
    }

    /** Nearest-rank percentile of sorted values; NaN when there are none. */
    static double percentile(List<Double> sorted, double p) {
        if (sorted.isEmpty()) return Double.NaN;
        int rank = (int) Math.ceil(p * sorted.size());
        return sorted.get(Math.max(0, Math.min(sorted.size() - 1, rank - 1)));
    }
}
