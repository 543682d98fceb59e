package dev.ember.server;

import static dev.ember.server.ServerFixture.json;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ember.engine.image.RgbImage;
import dev.ember.engine.metadata.PngMetadata;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every bad input gets a 4xx with a one-line detail naming the field (A1111's {@code {"detail": ...}} shape,
 * OpenAI's {@code {"error": {..., "param"}}} under /v1), and leaves nothing behind: the server stays up with an
 * empty queue and still makes pictures.
 */
class BadInputTest {
    private static final int MAX_BODY = 256 * 1024;
    private static EmberServer server;
    private static ServerFixture.Client client;

    @BeforeAll
    static void start() {
        server = ServerFixture.start(ServerFixture.config().withMaxBodyBytes(MAX_BODY));
        client = new ServerFixture.Client(server);
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    private static final String PNG = Base64.getEncoder().encodeToString(PngMetadata.plainPng(new RgbImage(8, 8, new byte[8 * 8 * 3])));
    private static final String TEXT = Base64.getEncoder().encodeToString("hello, not an image".getBytes(StandardCharsets.UTF_8));

    static Stream<Arguments> cases() {
        String ok = "\"prompt\":\"x\",\"width\":64,\"height\":64,\"steps\":2";
        String init = ",\"init_images\":[\"" + PNG + "\"]";
        return Stream.of(
                // path, body, status, text the detail must contain
                Arguments.of("/sdapi/v1/txt2img", "{", 422, "body: is not valid JSON"),
                Arguments.of("/sdapi/v1/txt2img", "not json", 422, "body: is not valid JSON"),
                Arguments.of("/sdapi/v1/txt2img", "", 422, "body: is empty"),
                Arguments.of("/sdapi/v1/txt2img", "[1, 2]", 422, "body: must be a JSON object"),
                Arguments.of("/sdapi/v1/txt2img", "{" + ok + "} trailing", 422, "body: is not valid JSON"),
                Arguments.of("/sdapi/v1/txt2img", "{\"steps\":\"abc\"}", 422, "steps: must be a number"),
                Arguments.of("/sdapi/v1/txt2img", "{\"steps\":20.5}", 422, "steps: must be a whole number"),
                Arguments.of("/sdapi/v1/txt2img", "{\"prompt\":5}", 422, "prompt: must be a string"),
                Arguments.of("/sdapi/v1/txt2img", "{\"width\":[64]}", 422, "width: must be a number"),
                Arguments.of("/sdapi/v1/txt2img", "{\"send_images\":\"maybe\"}", 422, "send_images: must be true or false"),
                Arguments.of("/sdapi/v1/txt2img", "{\"override_settings\":5}", 422, "override_settings: must be an object"),
                Arguments.of("/sdapi/v1/txt2img", "{\"sampler_name\":\"Bogus\"}", 422, "sampler_name: unknown sampler 'Bogus'"),
                Arguments.of("/sdapi/v1/txt2img", "{\"sampler_index\":\"Bogus\"}", 422, "sampler_index: unknown sampler"),
                Arguments.of("/sdapi/v1/txt2img", "{\"scheduler\":\"Bogus\"}", 422, "scheduler: unknown scheduler"),
                Arguments.of("/sdapi/v1/txt2img", "{\"width\":100}", 422, "width: must be a multiple of 8, got 100"),
                Arguments.of("/sdapi/v1/txt2img", "{\"height\":4096}", 422, "height: must be between 64 and 2048"),
                Arguments.of("/sdapi/v1/txt2img", "{\"width\":2048,\"height\":2048}", 422, "width: 2048x2048 is 4194304 pixels"),
                Arguments.of("/sdapi/v1/txt2img", "{\"steps\":0}", 422, "steps: must be between 1 and 150"),
                Arguments.of("/sdapi/v1/txt2img", "{\"steps\":151}", 422, "steps: must be between 1 and 150"),
                Arguments.of("/sdapi/v1/txt2img", "{\"cfg_scale\":31}", 422, "cfg_scale: must be between"),
                Arguments.of("/sdapi/v1/txt2img", "{\"batch_size\":0}", 422, "batch_size: must be between 1 and 16"),
                Arguments.of("/sdapi/v1/txt2img", "{\"batch_size\":4,\"n_iter\":5}", 422, "batch_size: batch_size x n_iter is 20"),
                Arguments.of("/sdapi/v1/txt2img", "{\"seed\":1e30}", 422, "seed: must be between"),
                Arguments.of("/sdapi/v1/txt2img", "{\"override_settings\":{\"sd_model_checkpoint\":\"nope\"}}", 422,
                        "override_settings.sd_model_checkpoint: unknown checkpoint 'nope'"),
                Arguments.of("/sdapi/v1/txt2img", "{\"override_settings\":{\"CLIP_stop_at_last_layers\":13}}", 422,
                        "override_settings.CLIP_stop_at_last_layers: must be between 1 and 12"),
                Arguments.of("/sdapi/v1/img2img", "{" + ok + "}", 422, "init_images: img2img needs one init image"),
                Arguments.of("/sdapi/v1/img2img", "{" + ok + ",\"init_images\":[\"!!!\"]}", 422, "init_images[0]: is not valid base64"),
                Arguments.of("/sdapi/v1/img2img", "{" + ok + ",\"init_images\":[\"" + TEXT + "\"]}", 422, "init_images[0]: is not an image"),
                Arguments.of("/sdapi/v1/img2img", "{" + ok + ",\"init_images\":[5]}", 422, "init_images[0]: must be a string"),
                Arguments.of("/sdapi/v1/img2img", "{" + ok + init + ",\"mask\":\"" + PNG + "\"}", 422, "mask: the mask is all black: nothing to inpaint"),
                Arguments.of("/sdapi/v1/img2img", "{" + ok + init + ",\"mask\":\"" + TEXT + "\"}", 422, "mask: is not an image"),
                Arguments.of("/sdapi/v1/img2img", "{" + ok + init + ",\"mask\":\"" + PNG + "\",\"inpainting_fill\":4}", 422,
                        "inpainting_fill: must be between 0 and 3"),
                Arguments.of("/sdapi/v1/img2img", "{" + ok + init + ",\"mask\":\"" + PNG + "\",\"mask_blur\":-1}", 422,
                        "mask_blur: must be between 0 and 64"),
                Arguments.of("/sdapi/v1/img2img", "{" + ok + init + ",\"mask\":\"" + PNG + "\",\"inpainting_mask_invert\":2}", 422,
                        "inpainting_mask_invert: must be true or false"),
                Arguments.of("/sdapi/v1/img2img", "{" + ok + init + ",\"resize_mode\":2}", 422, "resize_mode: 2 (resize and fill) is not supported"),
                Arguments.of("/sdapi/v1/img2img", "{" + ok + init + ",\"denoising_strength\":1.5}", 422, "denoising_strength: must be between 0"),
                Arguments.of("/sdapi/v1/img2img", "{" + ok + ",\"init_images\":[\"" + PNG + "\",\"" + PNG + "\"]}", 422, "init_images: only one"),
                Arguments.of("/sdapi/v1/options", "{\"sd_model_checkpoint\":\"nope\"}", 422, "sd_model_checkpoint: unknown checkpoint"),
                Arguments.of("/sdapi/v1/options", "{\"CLIP_stop_at_last_layers\":\"x\"}", 422, "CLIP_stop_at_last_layers: must be a number"),
                Arguments.of("/sdapi/v1/options", "{\"randn_source\":\"NV\"}", 422, "randn_source: 'NV' is not supported"),
                Arguments.of("/sdapi/v1/png-info", "{}", 422, "image: is required"),
                Arguments.of("/sdapi/v1/png-info", "{\"image\":\"" + TEXT + "\"}", 422, "image: is not an image"),
                Arguments.of("/v1/images/generations", "{}", 422, "prompt: is required"),
                Arguments.of("/v1/images/generations", "{\"prompt\":\"x\",\"size\":\"big\"}", 422, "size: must be WIDTHxHEIGHT"),
                Arguments.of("/v1/images/generations", "{\"prompt\":\"x\",\"size\":\"100x100\"}", 422, "size: sides must be multiples of 8"),
                Arguments.of("/v1/images/generations", "{\"prompt\":\"x\",\"n\":0}", 422, "n: must be between 1 and 10"),
                Arguments.of("/v1/images/generations", "{\"prompt\":\"x\",\"output_format\":\"jpeg\"}", 422, "output_format: only png"),
                Arguments.of("/v1/images/generations", "{\"prompt\":\"x\",\"response_format\":\"gif\"}", 422, "response_format: must be"),
                Arguments.of("/v1/images/generations", "{\"prompt\":\"x\",\"model\":\"nope\"}", 422, "model: unknown model 'nope'"));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void badInputIsAnswered4xxNamingTheField(String path, String body, int status, String detail) {
        var response = client.post(path, body);
        assertEquals(status, response.statusCode(), response.body());
        JsonNode r = json(response);
        assertTrue(r.get("detail").asText().contains(detail), "detail '" + r.get("detail").asText() + "' should contain '" + detail + "'");
        assertEquals(1, r.get("detail").asText().lines().count(), "one line");
        if (path.startsWith("/v1/")) {
            assertEquals("invalid_request_error", r.get("error").get("type").asText());
            assertEquals(detail.substring(0, detail.indexOf(':')), r.get("error").get("param").asText());
        } else {
            assertEquals(detail, r.get("errors").asText().substring(0, detail.length()));
        }
    }

    @Test
    void aBodyOverTheCapIs413() {
        String big = "{\"prompt\":\"" + "x".repeat(MAX_BODY + 10) + "\"}";
        var response = client.post("/sdapi/v1/txt2img", big);
        assertEquals(413, response.statusCode(), response.body());
        assertTrue(json(response).get("detail").asText().startsWith("body: is larger than this server accepts"), response.body());
    }

    @Test
    void unknownPathsAnd404sKeepTheShape() {
        var response = client.get("/sdapi/v1/nope");
        assertEquals(404, response.statusCode());
        assertEquals("Not Found", json(response).get("detail").asText());
    }

    @Test
    void afterAllThatTheServerIsUpWithAnEmptyQueueAndStillWorks() {
        for (Arguments a : cases().toList()) client.post((String) a.get()[0], (String) a.get()[1]);
        JsonNode queue = json(client.get("/health")).get("queue");
        assertEquals(0, queue.get("waiting").asInt());
        assertEquals(0, queue.get("running").asInt());
        assertEquals(0, queue.get("failed").asInt(), "bad input never reaches the queue");
        var ok = client.post("/sdapi/v1/txt2img", ServerFixture.txt2img("still here"));
        assertEquals(200, ok.statusCode(), ok.body());
    }
}
