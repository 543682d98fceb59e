package dev.ember.server;

import static dev.ember.server.ServerFixture.image;
import static dev.ember.server.ServerFixture.json;
import static dev.ember.server.ServerFixture.txt2img;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ember.engine.GenerationCancelledException;
import dev.ember.engine.GenerationRequest;
import dev.ember.engine.ModelOptions;
import dev.ember.engine.StableDiffusion;
import dev.ember.engine.StepEvent;
import dev.ember.engine.StepListener;
import dev.ember.engine.image.LatentPreview;
import dev.ember.engine.image.RgbImage;
import dev.ember.engine.sampling.Sampler;
import dev.ember.engine.sampling.Schedule;
import java.lang.foreign.ValueLayout;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The queue at work: progress and previews, interrupt, skip, clients that leave, a full queue, auth, many clients at once. */
class QueueTest {
    private static StableDiffusion engine;

    @BeforeAll
    static void load() {
        engine = StableDiffusion.load(ServerFixture.tinyA(), ModelOptions.defaults().withThreads(2));
    }

    @AfterAll
    static void close() {
        engine.close();
    }

    private static GenerationRequest.Builder euler(String prompt, long seed, int steps) {
        return GenerationRequest.builder(prompt).size(64, 64).steps(steps).seed(seed).cfgScale(7).sampler(Sampler.EULER).schedule(Schedule.DISCRETE);
    }

    /** The engine's picture of a run stopped at {@code step}: its denoised estimate there, decoded (A1111's interrupt). */
    private static RgbImage stoppedAt(GenerationRequest request, int step) {
        StepEvent[] at = new StepEvent[1];
        assertThrows(GenerationCancelledException.class, () -> engine.generate(request, e -> {
            if (e.step() < step) return StepListener.Action.CONTINUE;
            at[0] = e;
            return StepListener.Action.CANCEL;
        }));
        return engine.decodePreview(at[0].denoised() != null ? at[0].denoised() : at[0].latent(), at[0].latentHeight(), at[0].latentWidth());
    }

    private static CompletableFuture<HttpResponse<String>> postAsync(ServerFixture.Client client, String path, JsonNode body) {
        return client.http.sendAsync(client.request(path).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body.toString())).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static void eventually(String what, BooleanSupplier condition) throws InterruptedException {
        long end = System.nanoTime() + ServerFixture.TIMEOUT.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > end) throw new AssertionError("timed out waiting until " + what);
            Thread.sleep(10);
        }
    }

    private static JsonNode queue(ServerFixture.Client client) {
        return json(client.get("/health")).get("queue");
    }

    @Test
    void progressRisesStepByStepWithALivePreview() throws Exception {
        try (EmberServer server = ServerFixture.start(ServerFixture.config())) {
            var client = new ServerFixture.Client(server);
            Gate gate = new Gate();
            server.scheduler().stepHook = gate;
            var response = postAsync(client, "/sdapi/v1/txt2img", txt2img("watch me").put("steps", 6));
            double previous = -1;
            for (int step = 0; step <= 6; step++) {
                StepEvent e = gate.next();
                assertEquals(step, e.step());
                JsonNode p = json(client.get("/sdapi/v1/progress"));
                JsonNode state = p.get("state");
                assertEquals("txt2img", state.get("job").asText());
                assertEquals(1, state.get("job_count").asInt());
                assertEquals(step, state.get("sampling_step").asInt());
                assertEquals(6, state.get("sampling_steps").asInt());
                double progress = p.get("progress").asDouble();
                assertEquals(Math.min(1, 0.01 + step / 6.0), progress, 1e-9, "A1111's formula at step " + step);
                assertTrue(progress > previous, "progress rises");
                previous = progress;
                // The preview: A1111's cheap projection of the current estimate (the latent at step 0), at image size.
                var latent = e.denoised() != null ? e.denoised() : e.latent();
                RgbImage expected = LatentPreview.preview(latent.toArray(ValueLayout.JAVA_FLOAT), 0, 8, 8, LatentPreview.VAE_SCALE);
                assertEquals(expected, image(p.get("current_image").asText()), "preview at step " + step);
                assertTrue(json(client.get("/sdapi/v1/progress?skip_current_image=true")).get("current_image").isNull());
                gate.pass(1);
            }
            assertEquals(200, response.get(60, TimeUnit.SECONDS).statusCode());
            JsonNode idle = json(client.get("/sdapi/v1/progress"));
            assertEquals(0.0, idle.get("progress").asDouble());
            assertEquals(0, idle.get("state").get("job_count").asInt());
        }
    }

    @Test
    void interruptStopsAtTheNextStepAndReturnsWhatWasMade() throws Exception {
        try (EmberServer server = ServerFixture.start(ServerFixture.config().withMaxBatch(1))) {
            var client = new ServerFixture.Client(server);
            Gate gate = new Gate();
            server.scheduler().stepHook = gate;
            var response = postAsync(client, "/sdapi/v1/txt2img", txt2img("stop me").put("steps", 10).put("seed", 31).put("batch_size", 2));
            gate.waitFor(3);
            assertEquals("{}", client.post("/sdapi/v1/interrupt", "").body());
            assertTrue(json(client.get("/sdapi/v1/progress")).get("state").get("interrupted").asBoolean());
            gate.openForGood();
            var r = response.get(60, TimeUnit.SECONDS);
            assertEquals(200, r.statusCode(), r.body());
            JsonNode body = json(r);
            assertEquals(1, body.get("images").size(), "the second image never starts");
            JsonNode info = Json.MAPPER.readTree(body.get("info").asText());
            assertEquals("[3]", info.get("stopped_at_step").toString());
            assertEquals(2, info.get("all_seeds").size());
            assertEquals(stoppedAt(euler("stop me", 31, 10).build(), 3), image(body.get("images").get(0).asText()));
            assertEquals(1, queue(client).get("interrupted").asInt());
        }
    }

    @Test
    void skipStopsTheCurrentImageAndTheJobGoesOn() throws Exception {
        try (EmberServer server = ServerFixture.start(ServerFixture.config().withMaxBatch(1))) {
            var client = new ServerFixture.Client(server);
            Gate gate = new Gate();
            server.scheduler().stepHook = gate;
            var response = postAsync(client, "/sdapi/v1/txt2img", txt2img("skip one").put("steps", 6).put("seed", 41).put("batch_size", 2));
            gate.waitFor(2);
            client.post("/sdapi/v1/skip", "");
            gate.openForGood();
            JsonNode body = json(response.get(60, TimeUnit.SECONDS));
            JsonNode info = Json.MAPPER.readTree(body.get("info").asText());
            assertEquals("[2,-1]", info.get("stopped_at_step").toString());
            assertEquals(stoppedAt(euler("skip one", 41, 6).build(), 2), image(body.get("images").get(0).asText()));
            assertEquals(engine.generate(euler("skip one", 42, 6).build(), StepListener.NONE).images().getFirst().image(),
                    image(body.get("images").get(1).asText()));
        }
    }

    @Test
    void aClientThatLeavesHasItsJobStoppedOrDropped() throws Exception {
        try (EmberServer server = ServerFixture.start(ServerFixture.config().withMaxBatch(1))) {
            var client = new ServerFixture.Client(server);
            Gate gate = new Gate();
            server.scheduler().stepHook = gate;
            // A waits at step 2 of 20; B waits in the queue behind it.
            var a = postAsync(client, "/sdapi/v1/txt2img", txt2img("running, then left").put("steps", 20));
            gate.waitFor(2);
            var b = postAsync(client, "/sdapi/v1/txt2img", txt2img("queued, then left"));
            eventually("B waits in the queue", () -> queue(client).get("waiting").asInt() == 1);
            b.cancel(true);
            eventually("B is dropped from the queue", () -> queue(client).get("waiting").asInt() == 0 && queue(client).get("cancelled").asInt() == 1);
            a.cancel(true);
            Thread.sleep(300); // the server notices the closed connection at once; give it a moment
            gate.openForGood();
            eventually("A is cancelled", () -> queue(client).get("cancelled").asInt() == 2);
            assertEquals(0, gate.pending(), "A stopped at the step the gate held it at: no step after it arrived");
            JsonNode q = queue(client);
            assertEquals(0, q.get("done").asInt());
            assertEquals(0, q.get("running").asInt());
            var after = client.post("/sdapi/v1/txt2img", txt2img("the next client"));
            assertEquals(200, after.statusCode(), "the connection pool and the server still work");
        }
    }

    @Test
    void aFullQueueAnswers429WithRetryAfter() throws Exception {
        try (EmberServer server = ServerFixture.start(ServerFixture.config().withMaxBatch(1).withQueue(1))) {
            var client = new ServerFixture.Client(server);
            Gate gate = new Gate();
            server.scheduler().stepHook = gate;
            var running = postAsync(client, "/sdapi/v1/txt2img", txt2img("running"));
            gate.waitFor(0);
            var waiting = postAsync(client, "/sdapi/v1/txt2img", txt2img("waiting"));
            eventually("one job waits", () -> queue(client).get("waiting").asInt() == 1);
            var refused = client.post("/sdapi/v1/txt2img", txt2img("refused"));
            assertEquals(429, refused.statusCode(), refused.body());
            long retry = Long.parseLong(refused.headers().firstValue("Retry-After").orElseThrow());
            assertTrue(retry >= 1, "Retry-After " + retry);
            assertTrue(json(refused).get("detail").asText().startsWith("the queue is full"));
            var openAi = client.post("/v1/images/generations", ServerFixture.object().put("prompt", "x").put("size", "64x64"));
            assertEquals(429, openAi.statusCode());
            assertEquals("rate_limit_exceeded", json(openAi).get("error").get("code").asText());
            gate.openForGood();
            assertEquals(200, running.get(60, TimeUnit.SECONDS).statusCode());
            assertEquals(200, waiting.get(60, TimeUnit.SECONDS).statusCode());
            assertEquals(2, queue(client).get("refused").asInt());
        }
    }

    @Test
    void apiAuthGuardsEveryEndpoint() {
        var config = ServerFixture.config().withCredentials(ServerConfig.Credentials.parseList("alice:s3cret:x,bob:pw"));
        try (EmberServer server = ServerFixture.start(config)) {
            var client = new ServerFixture.Client(server);
            for (String path : List.of("/health", "/sdapi/v1/options", "/sdapi/v1/progress", "/v1/models")) {
                var r = client.get(path);
                assertEquals(401, r.statusCode(), path);
                assertEquals("Basic", r.headers().firstValue("WWW-Authenticate").orElseThrow());
                assertNotNull(json(r).get("detail"), path);
            }
            assertEquals(401, client.post("/sdapi/v1/txt2img", txt2img("x")).statusCode());
            client.authorization = basic("alice", "wrong");
            assertEquals(401, client.get("/health").statusCode());
            client.authorization = "Basic !!!";
            assertEquals(401, client.get("/health").statusCode());
            client.authorization = basic("alice", "s3cret:x");
            assertEquals(200, client.get("/health").statusCode());
            client.authorization = basic("bob", "pw");
            assertEquals(200, client.post("/sdapi/v1/txt2img", txt2img("x")).statusCode());
            client.authorization = "Bearer bob:pw"; // an OpenAI client's API key
            assertEquals(200, client.get("/v1/models").statusCode());
            client.authorization = "Bearer bob:nope";
            assertEquals(401, client.get("/v1/models").statusCode());
        }
    }

    private static String basic(String user, String password) {
        return "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void manyClientsAtOnceEachJobAnsweredOnceWithItsSerialPixels() throws Exception {
        int clients = 8, perClient = 4;
        String[] samplers = {"Euler", "Euler a", "DPM++ 2M", "LMS"};
        // A1111's names and their "Automatic" schedule (Karras for DPM++ 2M since A1111 1.9), written out here.
        Sampler[] engineSamplers = {Sampler.EULER, Sampler.EULER_A, Sampler.DPMPP_2M, Sampler.LMS};
        Schedule[] schedules = {Schedule.DISCRETE, Schedule.DISCRETE, Schedule.KARRAS, Schedule.DISCRETE};
        try (EmberServer server = ServerFixture.start(ServerFixture.config().withMaxBatch(4))) {
            var client = new ServerFixture.Client(server);
            ExecutorService pool = Executors.newFixedThreadPool(clients);
            List<Future<List<String>>> futures = new ArrayList<>();
            for (int c = 0; c < clients; c++) {
                int id = c;
                futures.add(pool.submit(() -> {
                    List<String> images = new ArrayList<>();
                    for (int k = 0; k < perClient; k++) {
                        ObjectNode body = txt2img("client " + id).put("seed", 1000 + id * 10 + k).put("steps", 4 + k % 2)
                                .put("sampler_name", samplers[id % samplers.length]);
                        var r = client.post("/sdapi/v1/txt2img", body);
                        assertEquals(200, r.statusCode(), r.body());
                        JsonNode j = json(r);
                        assertEquals(1, j.get("images").size());
                        images.add(j.get("images").get(0).asText());
                    }
                    return images;
                }));
            }
            pool.shutdown();
            List<List<String>> answers = new ArrayList<>();
            for (Future<List<String>> f : futures) answers.add(f.get(10, TimeUnit.MINUTES));
            JsonNode health = json(client.get("/health"));
            assertEquals(clients * perClient, health.get("queue").get("done").asInt(), health.toString());
            assertEquals(0, health.get("queue").get("failed").asInt());
            assertTrue(health.get("batching").get("largest_batch").asInt() >= 2, "images shared UNet calls: " + health);
            for (int c = 0; c < clients; c++) {
                for (int k = 0; k < perClient; k++) {
                    String name = samplers[c % samplers.length];
                    GenerationRequest twin = euler("client " + c, 1000 + c * 10 + k, 4 + k % 2).sampler(engineSamplers[c % samplers.length])
                            .schedule(schedules[c % samplers.length]).build();
                    assertEquals(engine.generate(twin, StepListener.NONE).images().getFirst().image(), image(answers.get(c).get(k)),
                            "client " + c + " request " + k + " (" + name + ")");
                }
            }
        }
    }
}
