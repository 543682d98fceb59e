package dev.ember.server;

import static dev.ember.server.ServerFixture.image;
import static dev.ember.server.ServerFixture.json;
import static dev.ember.server.ServerFixture.txt2img;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ember.engine.GenerationRequest;
import dev.ember.engine.InitResize;
import dev.ember.engine.Inpaint;
import dev.ember.engine.InpaintFill;
import dev.ember.engine.ModelOptions;
import dev.ember.engine.StableDiffusion;
import dev.ember.engine.StepListener;
import dev.ember.engine.image.PngText;
import dev.ember.engine.image.RgbImage;
import dev.ember.engine.metadata.PngMetadata;
import dev.ember.engine.sampling.Sampler;
import dev.ember.engine.sampling.Schedule;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Every endpoint's answer shape, and pixels equal to the engine's for the same parameters. */
class EndpointsTest {
    private static EmberServer server;
    private static ServerFixture.Client client;

    @BeforeAll
    static void start() {
        server = ServerFixture.start(ServerFixture.config());
        client = new ServerFixture.Client(server);
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    /** The engine's pixels for a request on one of the fixture's models. */
    private static RgbImage engine(Path model, GenerationRequest request) {
        try (StableDiffusion sd = StableDiffusion.load(model, ModelOptions.defaults().withThreads(2))) {
            return sd.generate(request, StepListener.NONE).images().getFirst().image();
        }
    }

    private static GenerationRequest.Builder euler(String prompt, long seed) {
        return GenerationRequest.builder(prompt).size(64, 64).steps(4).seed(seed).cfgScale(7).sampler(Sampler.EULER).schedule(Schedule.DISCRETE);
    }

    @Test
    void listingsHaveA1111Shapes() throws Exception {
        JsonNode models = json(client.get("/sdapi/v1/sd-models"));
        assertEquals(2, models.size(), models.toString());
        JsonNode a = models.get(0);
        assertEquals("tiny-a.safetensors", a.get("title").asText());
        assertEquals("tiny-a", a.get("model_name").asText());
        assertEquals(ServerFixture.tinyA().toAbsolutePath().toString(), a.get("filename").asText());
        for (String field : List.of("hash", "sha256", "config")) assertTrue(a.has(field), field);
        assertEquals("tiny-b.safetensors", models.get(1).get("title").asText());

        JsonNode samplers = json(client.get("/sdapi/v1/samplers"));
        List<String> names = new ArrayList<>();
        for (JsonNode s : samplers) {
            names.add(s.get("name").asText());
            assertTrue(s.get("aliases").isArray() && s.get("options").isObject(), s.toString());
        }
        assertEquals(List.of("DPM++ 2M", "Euler a", "Euler", "LMS", "Heun", "DPM2", "DPM++ 2S a", "DPM++ SDE", "LCM", "DDIM"), names);
        JsonNode schedulers = json(client.get("/sdapi/v1/schedulers"));
        assertEquals("Automatic", schedulers.get(0).get("label").asText());
        assertEquals("karras", schedulers.get(2).get("name").asText());
        assertEquals(7.0, schedulers.get(2).get("default_rho").asDouble());
        List<String> schedulerNames = new ArrayList<>();
        for (JsonNode s : schedulers) schedulerNames.add(s.get("name").asText());
        assertEquals(List.of("automatic", "uniform", "karras", "exponential", "sgm_uniform", "simple", "trailing"), schedulerNames);
        for (String path : List.of("/sdapi/v1/sd-vae", "/sdapi/v1/upscalers", "/sdapi/v1/latent-upscale-modes")) {
            var r = client.get(path);
            assertEquals(200, r.statusCode(), path);
            assertEquals("[]", r.body(), path);
        }
        JsonNode options = json(client.get("/sdapi/v1/options"));
        assertEquals("tiny-a.safetensors", options.get("sd_model_checkpoint").asText());
        assertEquals(1, options.get("CLIP_stop_at_last_layers").asInt());
        JsonNode progress = json(client.get("/sdapi/v1/progress"));
        assertEquals(0.0, progress.get("progress").asDouble());
        assertEquals(0, progress.get("state").get("job_count").asInt());
        assertTrue(progress.get("current_image").isNull());
        JsonNode openAiModels = json(client.get("/v1/models"));
        assertEquals("list", openAiModels.get("object").asText());
        assertEquals("tiny-a.safetensors", openAiModels.get("data").get(0).get("id").asText());
        assertEquals("model", openAiModels.get("data").get(0).get("object").asText());
        JsonNode health = json(client.get("/health"));
        assertEquals("ok", health.get("status").asText());
        assertEquals("tiny-a.safetensors", health.get("model").asText());

        // A checkpoint added to the folder appears after refresh-checkpoints, and goes again.
        Path extra = ServerFixture.models().resolve("sub").resolve("tiny-c.safetensors");
        Files.createDirectories(extra.getParent());
        Files.copy(ServerFixture.tinyA(), extra);
        try {
            assertEquals(2, json(client.get("/sdapi/v1/sd-models")).size());
            assertEquals(200, client.post("/sdapi/v1/refresh-checkpoints", "{}").statusCode());
            JsonNode after = json(client.get("/sdapi/v1/sd-models"));
            assertEquals(3, after.size(), after.toString());
            JsonNode added = null;
            for (JsonNode m : after) if (m.get("title").asText().equals("sub/tiny-c.safetensors")) added = m;
            assertEquals("sub_tiny-c", added == null ? after.toString() : added.get("model_name").asText());
        } finally {
            Files.delete(extra);
            Files.delete(extra.getParent());
            client.post("/sdapi/v1/refresh-checkpoints", "{}");
        }
    }

    @Test
    void txt2imgAnswersImagesParametersAndInfoWithTheEnginesPixels() throws Exception {
        ObjectNode body = txt2img("a red barn").put("seed", 42).put("batch_size", 2).put("negative_prompt", "fog").put("subseed_strength", 0.5);
        var response = client.post("/sdapi/v1/txt2img", body);
        assertEquals(200, response.statusCode(), response.body());
        JsonNode r = json(response);
        assertEquals(2, r.get("images").size());
        assertEquals("a red barn", r.get("parameters").get("prompt").asText());
        assertEquals(2, r.get("parameters").get("batch_size").asInt());
        assertEquals(7.0, r.get("parameters").get("cfg_scale").asDouble(), "defaults are filled in");
        JsonNode info = Json.MAPPER.readTree(r.get("info").asText());
        assertEquals(List.of(42L, 43L), List.of(info.get("all_seeds").get(0).asLong(), info.get("all_seeds").get(1).asLong()));
        assertEquals("a red barn", info.get("all_prompts").get(1).asText());
        assertEquals("fog", info.get("negative_prompt").asText());
        assertEquals("Euler", info.get("sampler_name").asText());
        assertEquals("tiny-a", info.get("sd_model_name").asText());
        assertTrue(info.get("warnings").toString().contains("subseed"), info.get("warnings").toString());
        for (int i = 0; i < 2; i++) {
            String infotext = info.get("infotexts").get(i).asText();
            assertTrue(infotext.startsWith("a red barn\nNegative prompt: fog\nSteps: 4, Sampler: Euler, CFG scale: 7.0, Seed: " + (42 + i) + ", Size: 64x64"), infotext);
            byte[] png = ServerFixture.base64(r.get("images").get(i).asText());
            Map<String, String> texts = PngText.read(png);
            assertEquals(infotext, texts.get(PngMetadata.PARAMETERS_KEY));
            assertTrue(texts.get(PngMetadata.EMBER_KEY).contains("\"seed\" : " + (42 + i)), texts.get(PngMetadata.EMBER_KEY));
            RgbImage expected = engine(ServerFixture.tinyA(), euler("a red barn", 42 + i).negativePrompt("fog").build());
            assertEquals(expected, image(r.get("images").get(i).asText()), "image " + i);
        }
        // send_images false: no images, still the info
        JsonNode quiet = json(client.post("/sdapi/v1/txt2img", txt2img("x").put("send_images", false)));
        assertEquals(0, quiet.get("images").size());
        assertEquals(1, Json.MAPPER.readTree(quiet.get("info").asText()).get("infotexts").size());
    }

    @Test
    void saveImagesWritesNumberedPngsWithMetadata() throws Exception {
        assertEquals(200, client.post("/sdapi/v1/txt2img", txt2img("kept").put("seed", 5).put("save_images", true)).statusCode());
        Path written = server.config().outputs().resolve("000001.5.png");
        assertTrue(Files.isRegularFile(written), "files: " + Files.list(server.config().outputs()).toList());
        assertEquals("kept", PngMetadata.read(written).ember().prompt());
    }

    @Test
    void img2imgTakesABase64InitImageAndMatchesTheEngine() throws Exception {
        RgbImage init = engine(ServerFixture.tinyA(), euler("init", 3).size(80, 64).build());
        String b64 = Base64.getEncoder().encodeToString(PngMetadata.plainPng(init));
        for (String prefix : List.of("", "data:image/png;base64,")) {
            ObjectNode body = txt2img("a grey city").put("seed", 11).put("steps", 8).put("denoising_strength", 0.5).put("resize_mode", 1);
            body.putArray("init_images").add(prefix + b64);
            var response = client.post("/sdapi/v1/img2img", body);
            assertEquals(200, response.statusCode(), response.body());
            JsonNode r = json(response);
            assertTrue(r.get("parameters").get("init_images").isNull(), "include_init_images is false by default");
            JsonNode info = Json.MAPPER.readTree(r.get("info").asText());
            assertEquals(0.5, info.get("denoising_strength").asDouble());
            assertTrue(info.get("infotexts").get(0).asText().contains("Denoising strength: 0.5"));
            RgbImage expected = engine(ServerFixture.tinyA(), euler("a grey city", 11).steps(8).initImage(init).strength(0.5).resize(InitResize.CROP).build());
            assertEquals(expected, image(r.get("images").get(0).asText()), "prefix '" + prefix + "'");
        }
        ObjectNode echoed = txt2img("x").put("denoising_strength", 0.3).put("include_init_images", true);
        echoed.putArray("init_images").add(b64);
        assertEquals(b64, json(client.post("/sdapi/v1/img2img", echoed)).get("parameters").get("init_images").get(0).asText());
    }

    /** img2img with A1111's mask fields: the engine's inpainting, kept pixels exactly the init image's. */
    @Test
    void img2imgWithAMaskInpaintsAsTheEngine() throws Exception {
        RgbImage init = engine(ServerFixture.tinyA(), euler("init", 3).build());
        byte[] m = new byte[64 * 64 * 3];
        for (int p = 0; p < 64 * 64; p++) if (p % 64 >= 32) m[p * 3] = m[p * 3 + 1] = m[p * 3 + 2] = (byte) 255;
        RgbImage mask = new RgbImage(64, 64, m);
        ObjectNode body = txt2img("a door").put("seed", 4).put("steps", 6).put("denoising_strength", 0.8).put("resize_mode", 1)
                .put("mask", Base64.getEncoder().encodeToString(PngMetadata.plainPng(mask))).put("mask_blur", 0).put("inpainting_fill", 2)
                .put("inpainting_mask_invert", 1).put("initial_noise_multiplier", 0.9).put("inpaint_full_res", false);
        body.putArray("init_images").add(Base64.getEncoder().encodeToString(PngMetadata.plainPng(init)));
        var response = client.post("/sdapi/v1/img2img", body);
        assertEquals(200, response.statusCode(), response.body());
        RgbImage got = image(json(response).get("images").get(0).asText());
        Inpaint settings = new Inpaint(mask, 0, InpaintFill.LATENT_NOISE, true, false, 0, 0.9);
        RgbImage expected = engine(ServerFixture.tinyA(), euler("a door", 4).steps(6).initImage(init).strength(0.8).resize(InitResize.CROP)
                .inpaint(settings).build());
        assertEquals(expected, got);
        for (int y = 0; y < 64; y++) for (int x = 32; x < 64; x++) assertEquals(init.pixel(x, y), got.pixel(x, y), "inverted: the right half is kept");
        assertNotEquals(init, got);

        // A1111's default inpaint_full_res: only the masked region (plus padding) at the working size, pasted back.
        byte[] square = new byte[64 * 64 * 3];
        for (int y = 40; y < 56; y++) for (int x = 40; x < 56; x++) for (int c = 0; c < 3; c++) square[(y * 64 + x) * 3 + c] = (byte) 255;
        RgbImage small = new RgbImage(64, 64, square);
        body.remove("inpaint_full_res");
        body.put("inpaint_full_res_padding", 4).put("inpainting_mask_invert", 0).put("mask", Base64.getEncoder().encodeToString(PngMetadata.plainPng(small)));
        RgbImage region = image(json(client.post("/sdapi/v1/img2img", body)).get("images").get(0).asText());
        assertEquals(engine(ServerFixture.tinyA(), euler("a door", 4).steps(6).initImage(init).strength(0.8).resize(InitResize.CROP)
                .inpaint(new Inpaint(small, 0, InpaintFill.LATENT_NOISE, false, true, 4, 0.9)).build()), region);
        RgbImage whole = engine(ServerFixture.tinyA(), euler("a door", 4).steps(6).initImage(init).strength(0.8).resize(InitResize.CROP)
                .inpaint(new Inpaint(small, 0, InpaintFill.LATENT_NOISE, false, false, 4, 0.9)).build());
        assertNotEquals(whole, region, "only the region, scaled up, is inpainted: not the whole picture's result");
    }

    @Test
    void pngInfoReadsTheParametersBack() {
        JsonNode made = json(client.post("/sdapi/v1/txt2img", txt2img("a \"quoted\" prompt").put("seed", 9).put("scheduler", "Karras")));
        ObjectNode body = ServerFixture.object().put("image", made.get("images").get(0).asText());
        var response = client.post("/sdapi/v1/png-info", body);
        assertEquals(200, response.statusCode(), response.body());
        JsonNode r = json(response);
        assertTrue(r.get("info").asText().startsWith("a \"quoted\" prompt\nSteps: 4, Sampler: Euler, Schedule type: Karras"), r.get("info").asText());
        JsonNode p = r.get("parameters");
        assertEquals("a \"quoted\" prompt", p.get("Prompt").asText());
        assertEquals("4", p.get("Steps").asText());
        assertEquals("9", p.get("Seed").asText());
        assertEquals("64", p.get("Size-1").asText());
        assertEquals("Karras", p.get("Schedule type").asText());
        assertTrue(r.get("items").has("ember"), r.get("items").toString());
    }

    @Test
    void openAiGenerationsAnswerInOpenAisShape() {
        ObjectNode body = ServerFixture.object().put("prompt", "a lighthouse").put("n", 2).put("size", "64x64")
                .put("response_format", "b64_json").put("steps", 4).put("seed", 21);
        var response = client.post("/v1/images/generations", body);
        assertEquals(200, response.statusCode(), response.body());
        JsonNode r = json(response);
        assertTrue(r.get("created").canConvertToLong());
        assertEquals(2, r.get("data").size());
        assertEquals("a lighthouse", r.get("data").get(0).get("revised_prompt").asText());
        RgbImage first = image(r.get("data").get(0).get("b64_json").asText());
        assertEquals(engine(ServerFixture.tinyA(), euler("a lighthouse", 21).build()), first);

        JsonNode url = json(client.post("/v1/images/generations", body.put("n", 1).put("response_format", "url").put("model", "dall-e-3")));
        assertTrue(url.get("data").get(0).get("url").asText().startsWith("data:image/png;base64,"));
        JsonNode other = json(client.post("/v1/images/generations", body.put("model", "tiny-b").put("response_format", "b64_json")));
        RgbImage fromB = image(other.get("data").get(0).get("b64_json").asText());
        assertEquals(engine(ServerFixture.models().resolve("tiny-b.safetensors"), euler("a lighthouse", 21).build()), fromB);
        assertNotEquals(first, fromB);
    }

    @Test
    void optionsAndOverridesSwitchTheModel() {
        RgbImage onA = image(json(client.post("/sdapi/v1/txt2img", txt2img("same seed"))).get("images").get(0).asText());
        try {
            var switched = client.post("/sdapi/v1/options", ServerFixture.object().put("sd_model_checkpoint", "tiny-b.safetensors [0123456789]"));
            assertEquals(200, switched.statusCode(), switched.body());
            assertEquals("tiny-b.safetensors", json(client.get("/sdapi/v1/options")).get("sd_model_checkpoint").asText());
            assertEquals("tiny-b.safetensors", json(client.get("/health")).get("model").asText());
            RgbImage onB = image(json(client.post("/sdapi/v1/txt2img", txt2img("same seed"))).get("images").get(0).asText());
            assertEquals(engine(ServerFixture.models().resolve("tiny-b.safetensors"), euler("same seed", 7).build()), onB);
            assertNotEquals(onA, onB);
            // A request may name its own checkpoint: the server loads it for that job.
            ObjectNode override = txt2img("same seed");
            override.putObject("override_settings").put("sd_model_checkpoint", "tiny-a");
            assertEquals(onA, image(json(client.post("/sdapi/v1/txt2img", override)).get("images").get(0).asText()));
        } finally {
            client.post("/sdapi/v1/options", ServerFixture.object().put("sd_model_checkpoint", "tiny-a.safetensors"));
        }
        // CLIP_stop_at_last_layers 2 (the penultimate layer) makes another picture; 1 is the model's own.
        ObjectNode skip = txt2img("same seed");
        skip.putObject("override_settings").put("CLIP_stop_at_last_layers", 2);
        RgbImage skipped = image(json(client.post("/sdapi/v1/txt2img", skip)).get("images").get(0).asText());
        try (StableDiffusion sd = StableDiffusion.load(ServerFixture.tinyA(), ModelOptions.defaults().withThreads(2).withClipSkip(2))) {
            assertEquals(sd.generate(euler("same seed", 7).build(), StepListener.NONE).images().getFirst().image(), skipped);
        }
        assertNotEquals(onA, skipped);
        assertFalse(json(client.get("/sdapi/v1/options")).get("sd_model_checkpoint").asText().contains("tiny-b"));
    }
}
