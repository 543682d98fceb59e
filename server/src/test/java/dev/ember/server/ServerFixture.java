package dev.ember.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ember.engine.ModelOptions;
import dev.ember.engine.TinyModel;
import dev.ember.engine.image.RgbImage;
import dev.ember.engine.model.DType;
import dev.ember.engine.model.ModelFormat;
import dev.ember.engine.model.ModelPreset;
import dev.ember.engine.model.SyntheticCheckpoint;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;

/**
 * Test fixtures: a models folder with two tiny checkpoints ({@code tiny-a.safetensors}, the default model's
 * preset and seed, and {@code tiny-b.safetensors}, another seed), servers on a random loopback port over it,
 * and a java.net.http client that speaks JSON to them.
 */
final class ServerFixture {
    static final Duration TIMEOUT = Duration.ofSeconds(120);
    private static Path models;

    private ServerFixture() {}

    static synchronized Path models() {
        if (models == null) {
            try {
                Path cache = Files.createTempDirectory("ember-server-cache-");
                System.setProperty(TinyModel.CACHE_PROPERTY, cache.toString()); // never touch ~/.cache/ember
                models = Files.createTempDirectory("ember-server-models-");
                SyntheticCheckpoint.write(ModelPreset.TINY, models.resolve("tiny-a.safetensors"), ModelFormat.SAFETENSORS, DType.F32, TinyModel.SEED);
                SyntheticCheckpoint.write(ModelPreset.TINY, models.resolve("tiny-b.safetensors"), ModelFormat.SAFETENSORS, DType.F32, 99);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return models;
    }

    static Path tinyA() {
        return models().resolve("tiny-a.safetensors");
    }

    /** Loopback, random port, the models folder with tiny-a first, 2 threads, outputs in a temp folder. */
    static ServerConfig config() {
        try {
            return ServerConfig.defaults().withPort(0).withModels(models()).withModel(tinyA())
                    .withOutputs(Files.createTempDirectory("ember-server-out-"))
                    .withModelOptions(ModelOptions.defaults().withThreads(2));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static EmberServer start(ServerConfig config) {
        EmberServer server = EmberServer.start(config);
        server.ready().join();
        return server;
    }

    /** A JSON client for one server. */
    static final class Client {
        final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
        final String base;
        String authorization;

        Client(EmberServer server) {
            this.base = server.url();
        }

        HttpRequest.Builder request(String path) {
            HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(TIMEOUT);
            if (authorization != null) b.header("Authorization", authorization);
            return b;
        }

        HttpResponse<String> get(String path) {
            return send(request(path).GET().build());
        }

        HttpResponse<String> post(String path, String json) {
            return send(request(path).header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(json)).build());
        }

        HttpResponse<String> post(String path, JsonNode json) {
            return post(path, json.toString());
        }

        HttpResponse<String> send(HttpRequest request) {
            try {
                return http.send(request, HttpResponse.BodyHandlers.ofString());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
    }

    static JsonNode json(HttpResponse<String> response) {
        try {
            return Json.MAPPER.readTree(response.body());
        } catch (IOException e) {
            throw new UncheckedIOException("not JSON (" + response.statusCode() + "): " + response.body(), e);
        }
    }

    static ObjectNode object() {
        return Json.MAPPER.createObjectNode();
    }

    /** A small, quick txt2img body: 64x64, 4 steps, Euler, seed 7. */
    static ObjectNode txt2img(String prompt) {
        ObjectNode o = object();
        o.put("prompt", prompt).put("width", 64).put("height", 64).put("steps", 4).put("seed", 7).put("sampler_name", "Euler");
        return o;
    }

    static byte[] base64(String b64) {
        return Base64.getDecoder().decode(b64);
    }

    static RgbImage image(String b64) {
        try {
            return RgbImage.read(new ByteArrayInputStream(base64(b64)), "image");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
