package dev.ember.server;

import dev.ember.engine.TinyModel;
import dev.ember.engine.noise.NoiseSource;
import io.javalin.Javalin;
import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;

/**
 * {@code ember serve}: AUTOMATIC1111's API ({@code /sdapi/v1/...}) and OpenAI's images API ({@code /v1/...}) over
 * one model kept in memory, with a FIFO queue, batching, live previews and interrupts. Javalin (Jetty) serves
 * HTTP on virtual threads; Jackson reads and writes JSON; generation goes through the engine's public API.
 *
 * <pre>{@code
 * try (EmberServer server = EmberServer.start(ServerConfig.defaults().withPort(0))) {
 *     server.ready().join();            // the model is loaded
 *     System.out.println(server.url()); // http://127.0.0.1:PORT
 * }
 * }</pre>
 *
 * <p>Every bad request is answered with a 4xx and a one-line {@code detail} naming the field; a job's failure
 * answers that job only; {@link #close()} stops taking requests, ends queued jobs with 503 and frees the model.
 */
public final class EmberServer implements AutoCloseable {
    private final ServerConfig config;
    private final ModelCatalog catalog;
    private final ModelHost host;
    private final Scheduler scheduler;
    private final AtomicReference<Selection> selection;
    private final CompletableFuture<String> ready;
    private final ProgressView progress;
    private final Javalin http;

    private EmberServer(ServerConfig config) {
        this.config = config;
        boolean none = config.model() == null && config.models() == null;
        this.catalog = new ModelCatalog(none ? TinyModel.path() : config.model(), config.models());
        this.host = new ModelHost(config.modelOptions(), config.maxBatch());
        this.scheduler = new Scheduler(host, config.queue(), config.maxBatch());
        Selection first = new Selection(catalog.initial(), 1, NoiseSource.PHILOX);
        this.selection = new AtomicReference<>(first);
        this.ready = scheduler.switchModel(first.key()).thenApply(loaded -> loaded.key().checkpoint().title());
        this.progress = new ProgressView(scheduler, host, config);
        A1111Api a1111 = new A1111Api(this);
        OpenAiApi openAi = new OpenAiApi(this);
        this.http = Javalin.create(cfg -> {
            cfg.concurrency.useVirtualThreads = true;
            cfg.startup.showJavalinBanner = false;
            cfg.startup.showOldJavalinVersionWarning = false;
            cfg.jetty.host = config.host();
            cfg.jetty.port = config.port();
            cfg.http.maxRequestSize = config.maxBodyBytes();
            cfg.routes.before(this::authenticate);
            a1111.routes(cfg.routes);
            openAi.routes(cfg.routes);
            cfg.routes.get("/health", this::health);
            cfg.routes.exception(ApiException.class, (e, ctx) -> error(ctx, e));
            cfg.routes.exception(HttpResponseException.class, (e, ctx) -> error(ctx, new ApiException(e.getStatus(),
                    e.getStatus() == 413 ? "body" : null, e.getStatus() == 413
                            ? "is larger than this server accepts (" + config.maxBodyBytes() + " bytes)" : e.getMessage())));
            cfg.routes.exception(Exception.class, (e, ctx) -> error(ctx, new ApiException(500, null, "unexpected error: " + e)));
            cfg.routes.error(404, ctx -> error(ctx, new ApiException(404, null, "Not Found")));
            cfg.routes.error(405, ctx -> error(ctx, new ApiException(405, null, "Method Not Allowed")));
        });
    }

    /** Starts serving; the first model loads in the background ({@link #ready()}). */
    public static EmberServer start(ServerConfig config) {
        configureLogging();
        EmberServer server = new EmberServer(config);
        try {
            server.http.start();
        } catch (RuntimeException e) {
            server.closeBackend();
            throw e;
        }
        return server;
    }

    /** Keeps Jetty's and Javalin's logging to warnings unless the user configured SLF4J Simple. */
    private static void configureLogging() {
        if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null) {
            System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
        }
    }

    /** Completes with the first model's title once it is loaded (exceptionally if it cannot be). */
    public CompletableFuture<String> ready() {
        return ready;
    }

    public int port() {
        return http.port();
    }

    public String url() {
        String h = config.host().contains(":") && !config.host().startsWith("[") ? "[" + config.host() + "]" : config.host();
        return "http://" + h + ":" + port();
    }

    ServerConfig config() { return config; }
    ModelCatalog catalog() { return catalog; }
    ModelHost host() { return host; }
    Scheduler scheduler() { return scheduler; }
    ProgressView progress() { return progress; }
    Selection selection() { return selection.get(); }
    void select(Selection s) { selection.set(s); }

    /**
     * Queues {@code job} and waits for it, dropping it if the client goes away meanwhile.
     *
     * @return the ended job, or null when the client left (nothing to answer)
     * @throws ApiException 429 when the queue is full; the job's failure when it failed
     */
    Job run(Context ctx, Job job) {
        scheduler.submit(job);
        ClientWatch watch = ClientWatch.start(ctx, () -> scheduler.cancel(job));
        try {
            job.done().join();
        } finally {
            if (watch.stop()) ctx.header("Connection", "close");
        }
        if (job.cancelled()) {
            if (job.failure() != null) throw job.failure(); // shutting down
            ctx.status(499); // the client closed the connection; nobody reads this
            return null;
        }
        if (job.failure() != null) throw job.failure() instanceof ApiException api ? api : new ApiException(500, null, job.failure().getMessage());
        return job;
    }

    /**
     * HTTP Basic with any of the configured users. OpenAI clients can only send a bearer token, so
     * {@code Authorization: Bearer user:password} (the client's API key set to {@code user:password}) counts too.
     */
    private void authenticate(Context ctx) {
        if (config.credentials().isEmpty()) return;
        String header = ctx.header("Authorization");
        byte[] given = null;
        if (header != null && header.regionMatches(true, 0, "Basic ", 0, 6)) {
            try {
                given = Base64.getDecoder().decode(header.substring(6).strip());
            } catch (IllegalArgumentException e) {
                given = null;
            }
        } else if (header != null && header.regionMatches(true, 0, "Bearer ", 0, 7)) {
            given = header.substring(7).strip().getBytes(StandardCharsets.UTF_8);
        }
        if (given != null) {
            boolean ok = false;
            for (ServerConfig.Credentials c : config.credentials()) {
                byte[] expected = (c.user() + ":" + c.password()).getBytes(StandardCharsets.UTF_8);
                ok |= MessageDigest.isEqual(expected, given); // every user compared, in constant time each
            }
            if (ok) return;
        }
        ctx.header("WWW-Authenticate", "Basic");
        error(ctx, new ApiException(401, null, "Incorrect username or password"));
        ctx.skipRemainingHandlers();
    }

    private void health(Context ctx) {
        Map<String, Object> out = new LinkedHashMap<>();
        Scheduler.Counts c = scheduler.counts();
        ModelHost.Loaded loaded = host.current();
        int status;
        if (ready.isCompletedExceptionally()) {
            status = 503;
            out.put("status", "failed");
            out.put("detail", ready.handle((v, e) -> e == null ? "" : rootMessage(e)).join());
        } else if (!ready.isDone()) {
            status = 503;
            out.put("status", "loading");
        } else {
            status = 200;
            out.put("status", "ok");
        }
        out.put("model", loaded == null ? null : loaded.key().checkpoint().title());
        out.put("queue", Map.of("waiting", c.waiting(), "running", c.running(), "done", c.done(), "interrupted", c.interrupted(),
                "cancelled", c.cancelled(), "failed", c.failed(), "refused", c.refused()));
        if (loaded != null) {
            var b = loaded.batching().stats();
            out.put("batching", Map.of("max_images", loaded.batching().maxImages(), "unet_calls", b.unetCalls(),
                    "image_evaluations", b.imageEvaluations(), "largest_batch", b.largestBatch()));
        }
        Json.answer(ctx, status, out);
    }

    static String rootMessage(Throwable e) {
        Throwable t = e;
        while ((t instanceof java.util.concurrent.CompletionException || t instanceof java.util.concurrent.ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        return t.getMessage() == null ? t.toString() : t.getMessage();
    }

    /** Answers an error in the shape the path's API uses: OpenAI's under /v1/, A1111's elsewhere; both carry {@code detail}. */
    static void error(Context ctx, ApiException e) {
        Map<String, Object> body = new LinkedHashMap<>();
        if (ctx.path().startsWith("/v1/")) {
            Map<String, Object> err = new LinkedHashMap<>();
            err.put("message", e.getMessage());
            err.put("type", e.status() >= 500 ? "server_error" : "invalid_request_error");
            err.put("param", e.field());
            err.put("code", e.status() == 429 ? "rate_limit_exceeded" : null);
            body.put("error", err);
            body.put("detail", e.getMessage());
        } else {
            body.put("error", e.status() == 422 ? "ValidationError" : "HTTPException");
            body.put("detail", e.getMessage());
            body.put("body", "");
            body.put("errors", e.getMessage());
        }
        if (e instanceof Scheduler.QueueFullException full) ctx.header("Retry-After", Long.toString(full.retryAfterSeconds()));
        Json.answer(ctx, e.status(), body);
    }

    @Override
    public void close() {
        http.stop();
        closeBackend();
    }

    private void closeBackend() {
        scheduler.close();
        host.close();
        catalog.close();
    }
}
