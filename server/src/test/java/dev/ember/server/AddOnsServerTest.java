package dev.ember.server;

import static dev.ember.server.ServerFixture.image;
import static dev.ember.server.ServerFixture.json;
import static dev.ember.server.ServerFixture.txt2img;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ember.engine.AddOns;
import dev.ember.engine.GenerationRequest;
import dev.ember.engine.ModelOptions;
import dev.ember.engine.StableDiffusion;
import dev.ember.engine.StepEvent;
import dev.ember.engine.StepListener;
import dev.ember.engine.image.RgbImage;
import dev.ember.engine.model.DType;
import dev.ember.engine.model.ModelPreset;
import dev.ember.engine.model.SyntheticLora;
import dev.ember.engine.sampling.Sampler;
import dev.ember.engine.sampling.Schedule;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A server started with add-ons ({@code ember serve --lora-dir --embeddings-dir --taesd --preview taesd}): A1111's
 * listings show them, and a {@code <lora:NAME:WEIGHT>} tag in a request's prompt gives exactly the engine's picture
 * for the same prompt and folder.
 */
class AddOnsServerTest {
    private static Path loras;
    private static Path embeddings;
    private static EmberServer server;
    private static ServerFixture.Client client;

    @BeforeAll
    static void start() throws Exception {
        loras = Files.createTempDirectory("ember-server-loras-");
        SyntheticLora.write(loras.resolve("ink.safetensors"), ModelPreset.TINY.spec(), 4, 4, 11, DType.F32, SyntheticLora.Format.KOHYA);
        embeddings = Files.createTempDirectory("ember-server-embeddings-");
        Files.createDirectories(embeddings.resolve("styles"));
        Files.write(embeddings.resolve("styles").resolve("mossy.pt"), new byte[0]); // listed by name; read only when a prompt uses it
        Files.writeString(embeddings.resolve("notes.txt"), "not an embedding");
        Path taesd = Files.createTempDirectory("ember-server-taesd-").resolve("taesd.safetensors");
        SyntheticLora.writeTaesd(taesd, DType.F32, 5);
        ServerConfig config = ServerFixture.config();
        server = ServerFixture.start(config.withPreview(ServerConfig.Preview.TAESD, 1)
                .withModelOptions(config.modelOptions().withAddOns(AddOns.none().withLoraDir(loras).withEmbeddingsDir(embeddings).withTaesd(taesd))));
        client = new ServerFixture.Client(server);
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    @Test
    void listingsNameTheFoldersFiles() throws Exception {
        JsonNode l = json(client.get("/sdapi/v1/loras"));
        assertEquals(1, l.size(), l.toString());
        assertEquals("ink", l.get(0).get("name").asText());
        assertEquals(loras.resolve("ink.safetensors").toAbsolutePath().normalize().toString(), l.get(0).get("path").asText());
        JsonNode e = json(client.get("/sdapi/v1/embeddings"));
        assertEquals(1, e.get("loaded").size(), e.toString());
        assertTrue(e.get("loaded").has("mossy"), e.toString());
        assertEquals(0, json(client.get("/sdapi/v1/sd-vae")).size(), "no --vae given");
    }

    @Test
    void aLoraTagInThePromptGivesTheEnginesPicture() throws Exception {
        String prompt = "a harbour <lora:ink:0.8>";
        JsonNode r = json(client.post("/sdapi/v1/txt2img", txt2img(prompt)));
        RgbImage served = image(r.get("images").get(0).asText());
        JsonNode plain = json(client.post("/sdapi/v1/txt2img", txt2img("a harbour")));
        assertNotEquals(image(plain.get("images").get(0).asText()), served, "the LoRA changes the picture");

        GenerationRequest request = GenerationRequest.builder(prompt).size(64, 64).steps(4).seed(7).cfgScale(7)
                .sampler(Sampler.EULER).schedule(Schedule.DISCRETE).build();
        ModelOptions options = ModelOptions.defaults().withThreads(2).withAddOns(AddOns.none().withLoraDir(loras));
        try (StableDiffusion sd = StableDiffusion.load(ServerFixture.tinyA(), options)) {
            assertEquals(sd.generate(request, StepListener.NONE).images().getFirst().image(), served);
        }
        String infotext = Json.MAPPER.readTree(r.get("info").asText()).get("infotexts").get(0).asText();
        assertTrue(infotext.contains("Lora hashes: ") && infotext.contains("ink: "), infotext);
    }

    @Test
    void aMissingOrMalformedAddOnIsA422NamingIt() throws Exception {
        var missing = client.post("/sdapi/v1/txt2img", txt2img("a harbour <lora:nope:0.8>"));
        assertEquals(422, missing.statusCode(), missing.body());
        assertTrue(missing.body().contains("no LoRA named 'nope'"), missing.body());
        var malformed = client.post("/sdapi/v1/txt2img", txt2img("a harbour <lora:ink:lots>"));
        assertEquals(422, malformed.statusCode(), malformed.body());
        assertTrue(malformed.body().contains("not a number"), malformed.body());
        // The server goes on: the next request with a good tag is answered.
        assertEquals(200, client.post("/sdapi/v1/txt2img", txt2img("a harbour <lora:ink:0.5>")).statusCode());
    }

    @Test
    void progressPreviewsAreTaesdPictures() throws Exception {
        Gate gate = new Gate();
        server.scheduler().stepHook = gate;
        try (StableDiffusion sd = StableDiffusion.load(ServerFixture.tinyA(), server.config().modelOptions())) {
            var response = client.http.sendAsync(client.request("/sdapi/v1/txt2img").header("Content-Type", "application/json").POST(
                    java.net.http.HttpRequest.BodyPublishers.ofString(txt2img("watch me").put("steps", 3).toString())).build(),
                    java.net.http.HttpResponse.BodyHandlers.ofString());
            for (int step = 0; step <= 3; step++) {
                StepEvent e = gate.next();
                JsonNode p = json(client.get("/sdapi/v1/progress"));
                var latent = e.denoised() != null ? e.denoised() : e.latent();
                assertEquals(sd.taesdPreview(latent, e.latentHeight(), e.latentWidth()), image(p.get("current_image").asText()),
                        "TAESD preview at step " + step);
                gate.pass(1);
            }
            assertEquals(200, response.get(60, java.util.concurrent.TimeUnit.SECONDS).statusCode());
        } finally {
            server.scheduler().stepHook = null;
        }
    }
}
