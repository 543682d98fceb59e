package dev.ember.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ember.engine.ModelOptions;
import dev.ember.engine.image.RgbImage;
import dev.ember.server.EmberServer;
import dev.ember.server.ServerConfig;
import java.io.ByteArrayInputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code ember serve} and {@code ember bench-serve}: a server's pictures are the command line's, pixel for pixel. */
class ServeCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newHttpClient();

    @TempDir
    Path dir;

    @BeforeAll
    static void cache() {
        TestModels.useTemporaryCache();
    }

    private static JsonNode post(String url, ObjectNode body) throws Exception {
        HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofMinutes(2))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body.toString())).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        return JSON.readTree(r.body());
    }

    private static RgbImage image(JsonNode answer) throws Exception {
        return RgbImage.read(new ByteArrayInputStream(Base64.getDecoder().decode(answer.get("images").get(0).asText())), "answer");
    }

    private static RgbImage onlyPng(Path folder) throws Exception {
        try (var files = Files.list(folder)) {
            return RgbImage.read(files.filter(f -> f.toString().endsWith(".png")).findFirst().orElseThrow());
        }
    }

    @Test
    void serveAnswersWithTheCommandLinesPixelsAndStopsWhenInterrupted() throws Exception {
        StringWriter out = new StringWriter(), err = new StringWriter();
        AtomicInteger exit = new AtomicInteger(-1);
        Thread serving = new Thread(() -> {
            CommandLine cl = EmberCommand.commandLine();
            cl.setOut(new PrintWriter(out, true));
            cl.setErr(new PrintWriter(err, true));
            exit.set(cl.execute("serve", "--port", "0", "--threads", "1", "--model", TestModels.tiny().toString(),
                    "--outputs", dir.resolve("saved").toString()));
        });
        serving.start();
        Pattern serving_at = Pattern.compile("serving tiny\\.safetensors at (http://127\\.0\\.0\\.1:\\d+)");
        Matcher m = serving_at.matcher("");
        for (long end = System.nanoTime() + Duration.ofMinutes(2).toNanos(); !m.find() && System.nanoTime() < end; Thread.sleep(20)) {
            m = serving_at.matcher(out.toString());
        }
        assertTrue(m.find(0), "out: " + out + " err: " + err);
        String url = m.group(1);
        try {
            ObjectNode body = JSON.createObjectNode().put("prompt", "a red barn").put("negative_prompt", "fog").put("seed", 7).put("steps", 4)
                    .put("cfg_scale", 5).put("width", 64).put("height", 72).put("sampler_name", "Euler a");
            RgbImage served = image(post(url + "/sdapi/v1/txt2img", body));
            Path cli = dir.resolve("cli");
            CliRunner r = CliRunner.run("txt2img", "-p", "a red barn", "--negative", "fog", "-S", "7", "-s", "4", "-C", "5", "-W", "64", "-H", "72",
                    "-A", "euler_a", "--threads", "1", "--model", TestModels.tiny().toString(), "--out", cli.toString());
            assertEquals(0, r.exitCode(), r.err());
            assertEquals(onlyPng(cli), served, "txt2img: server and command line");

            Path init = cli.resolve("000001.7.png");
            ObjectNode i2i = JSON.createObjectNode().put("prompt", "a grey city").put("seed", 3).put("steps", 10).put("cfg_scale", 7.5)
                    .put("width", 64).put("height", 64).put("sampler_name", "LMS").put("denoising_strength", 0.6).put("resize_mode", 1);
            i2i.putArray("init_images").add(Base64.getEncoder().encodeToString(Files.readAllBytes(init)));
            RgbImage servedI2i = image(post(url + "/sdapi/v1/img2img", i2i));
            Path cliI2i = dir.resolve("cli-i2i");
            r = CliRunner.run("img2img", "-I", init.toString(), "-p", "a grey city", "-S", "3", "-s", "10", "-C", "7.5", "-W", "64", "-H", "64",
                    "-A", "k_lms", "-f", "0.6", "--resize", "crop", "--threads", "1", "--model", TestModels.tiny().toString(), "--out", cliI2i.toString());
            assertEquals(0, r.exitCode(), r.err());
            assertEquals(onlyPng(cliI2i), servedI2i, "img2img: server and command line");
        } finally {
            serving.interrupt();
            serving.join(60_000);
        }
        assertEquals(0, exit.get(), "err: " + err);
        assertTrue(err.toString().isEmpty() || !err.toString().contains("Exception"), err.toString());
    }

    @Test
    void badServeOptionsAreUsageErrors() {
        CliRunner r = CliRunner.run("serve", "--queue", "0");
        assertEquals(2, r.exitCode());
        assertTrue(r.err().contains("queue must be between 1 and 100000"), r.err());
        r = CliRunner.run("serve", "--api-auth", "nocolon");
        assertEquals(2, r.exitCode());
        assertTrue(r.err().contains("'nocolon' is not user:password"), r.err());
        r = CliRunner.run("serve", "--preview", "bogus");
        assertEquals(2, r.exitCode());
        r = CliRunner.run("serve", "--model", dir.resolve("missing.safetensors").toString(), "--port", "0");
        assertEquals(1, r.exitCode());
        assertTrue(r.err().contains("missing.safetensors: no such file"), r.err());
    }

    @Test
    void benchServeMeasuresARunningServer() {
        ServerConfig config = ServerConfig.defaults().withPort(0).withModel(TestModels.tiny()).withModelOptions(ModelOptions.defaults().withThreads(1));
        try (EmberServer server = EmberServer.start(config)) {
            server.ready().join();
            CliRunner r = CliRunner.run("bench-serve", "--url", server.url(), "--clients", "2", "--requests", "4", "-W", "64", "-H", "64", "-s", "2");
            assertEquals(0, r.exitCode(), r.out() + r.err());
            assertTrue(r.out().startsWith("4 of 4 images in "), r.out());
            assertTrue(r.out().contains("images/min; latency p50 "), r.out());
        }
        CliRunner far = CliRunner.run("bench-serve", "--url", "http://192.0.2.1:7860");
        assertEquals(2, far.exitCode());
        assertTrue(far.err().contains("must be a loopback address"), far.err());
    }
}
