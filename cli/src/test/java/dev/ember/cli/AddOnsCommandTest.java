package dev.ember.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ember.engine.image.RgbImage;
import dev.ember.engine.metadata.AddOnsRecord;
import dev.ember.engine.metadata.ImageParameters;
import dev.ember.engine.metadata.PngMetadata;
import dev.ember.engine.model.DType;
import dev.ember.engine.model.FileHashes;
import dev.ember.engine.model.NetworkLayout;
import dev.ember.engine.model.SafetensorsWriter;
import dev.ember.engine.model.TensorSource;
import dev.ember.engine.model.TensorSpec;
import dev.ember.engine.model.VaeConfig;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** LoRAs, embeddings, a separate VAE, TAESD previews and decodes, tiling and raw latents from the command line. */
class AddOnsCommandTest {
    @TempDir
    static Path dir;
    static Path loras, embeddings, vae, taesd;

    @BeforeAll
    static void files() throws Exception {
        TestModels.useTemporaryCache();
        loras = Files.createDirectories(dir.resolve("loras"));
        embeddings = Files.createDirectories(dir.resolve("embeddings"));
        assertEquals(0, CliRunner.run("make-model", "--preset", "lora-tiny", "--out", loras.resolve("tinylora.safetensors").toString()).exitCode());
        taesd = dir.resolve("taesd.safetensors");
        assertEquals(0, CliRunner.run("make-model", "--preset", "taesd", "--dtype", "f16", "--out", taesd.toString()).exitCode());
        SafetensorsWriter.write(embeddings.resolve("zorbling.safetensors"), Map.of(), List.of(new TensorSource("emb_params", DType.F32,
                new long[] {2, 32}, s -> {
                    for (int i = 0; i < 64; i++) s.setAtIndex(ValueLayout.JAVA_FLOAT, i, 0.03f * (i % 11) - 0.1f);
                })));
        // A VAE of its own (other values), with bare LDM names as vae-ft-mse-840000 has them.
        vae = dir.resolve("vae.safetensors");
        List<TensorSource> t = new ArrayList<>();
        for (TensorSpec s : NetworkLayout.vae(VaeConfig.TINY)) {
            t.add(TensorSource.synthetic(s, 77, DType.F16).as(s.name().substring(NetworkLayout.VAE_PREFIX.length()), s.shape()));
        }
        SafetensorsWriter.write(vae, Map.of(), t);
    }

    static List<String> small(String... more) {
        List<String> args = new ArrayList<>(List.of("txt2img", "-W", "64", "-H", "64", "-s", "3", "-S", "5", "--threads", "1",
                "--model", TestModels.tiny().toString()));
        args.addAll(List.of(more));
        return args;
    }

    static CliRunner run(List<String> args) {
        return CliRunner.run(args.toArray(String[]::new));
    }

    @Test
    void everyAddOnIsAppliedRecordedAndReproduced() throws Exception {
        Path out = dir.resolve("out"), steps = dir.resolve("steps"), latents = dir.resolve("latents");
        CliRunner r = run(small("-p", "zorbling on a hill <lora:tinylora:0.8>", "--lora-dir", loras.toString(), "--embeddings-dir",
                embeddings.toString(), "--vae", vae.toString(), "--taesd", taesd.toString(), "--preview", "taesd", "--intermediates",
                steps.toString(), "--latents", latents.toString(), "--out", out.toString()));
        assertEquals(0, r.exitCode(), r.err());
        Path png = out.resolve("000001.5.png");
        String infotext = PngMetadata.read(png).parameters();
        String lora = FileHashes.loraSha256(loras.resolve("tinylora.safetensors")).substring(0, 12);
        String emb = FileHashes.sha256(embeddings.resolve("zorbling.safetensors")).substring(0, 12);
        assertTrue(infotext.contains("Lora hashes: \"tinylora: " + lora + "\""), infotext);
        assertTrue(infotext.contains("TI hashes: \"zorbling: " + emb + "\""), infotext);
        assertTrue(infotext.contains("VAE hash: " + FileHashes.sha256(vae).substring(0, 10) + ", VAE: vae.safetensors"), infotext);
        AddOnsRecord a = PngMetadata.read(png).ember().addOns();
        assertEquals(loras.toAbsolutePath().toString(), a.loraDir());
        assertEquals(0.8, a.loras().getFirst().weight());
        assertTrue(a.loras().getFirst().fromPrompt());
        assertEquals(List.of("zorbling"), a.embeddings().stream().map(AddOnsRecord.Resource::name).toList());
        assertTrue(Files.exists(steps.resolve("step-03.png")) && Files.exists(steps.resolve("steps.png")));
        assertTrue(Files.exists(latents.resolve("step-00.safetensors")) && Files.exists(latents.resolve("step-03.safetensors")));
        assertTrue(r.out().contains("4 step latents in " + latents), r.out());

        // The record brings every add-on back: the same pixels.
        Path again = dir.resolve("again");
        CliRunner re = CliRunner.run("txt2img", "--from-image", png.toString(), "--threads", "1", "--out", again.toString());
        assertEquals(0, re.exitCode(), re.err());
        assertEquals(RgbImage.read(png), RgbImage.read(again.resolve("000001.5.png")));
        // Each add-on changes the picture: without the LoRA and the VAE it is another one.
        Path plain = dir.resolve("plain");
        assertEquals(0, run(small("-p", "zorbling on a hill", "--out", plain.toString())).exitCode());
        assertNotEquals(RgbImage.read(png), RgbImage.read(plain.resolve("000001.5.png")));
    }

    @Test
    void taesdDecodesAndTilingRunsFromTheCommandLine() throws Exception {
        Path a = dir.resolve("vae-decoder"), b = dir.resolve("taesd-decoder"), c = dir.resolve("tiled");
        assertEquals(0, run(small("-p", "a boat", "-W", "256", "--out", a.toString())).exitCode());
        CliRunner t = run(small("-p", "a boat", "-W", "256", "--taesd", taesd.toString(), "--vae-decoder", "taesd", "--out", b.toString()));
        assertEquals(0, t.exitCode(), t.err());
        CliRunner tiled = run(small("-p", "a boat", "-W", "256", "--vae-tiling", "on", "--vae-tile-size", "128", "--out", c.toString()));
        assertEquals(0, tiled.exitCode(), tiled.err());
        RgbImage vaeImage = RgbImage.read(a.resolve("000001.5.png"));
        assertEquals(256, vaeImage.width());
        assertNotEquals(vaeImage, RgbImage.read(b.resolve("000001.5.png")), "TAESD's decode differs from the VAE's");
        assertNotEquals(vaeImage, RgbImage.read(c.resolve("000001.5.png")), "tiles of 128 pixels decode a little differently");
        ImageParameters p = PngMetadata.read(c.resolve("000001.5.png")).ember();
        assertEquals("on", p.addOns().tiling());
        assertEquals(128, p.addOns().tileSize());
        assertEquals("taesd", PngMetadata.read(b.resolve("000001.5.png")).ember().addOns().decoder());
    }

    @Test
    void badAddOnsAreOneLineErrors() {
        Path out = dir.resolve("errors");
        CliRunner missing = run(small("-p", "<lora:nope:1> a cat", "--lora-dir", loras.toString(), "--out", out.toString()));
        assertEquals(1, missing.exitCode());
        assertTrue(missing.err().startsWith("ember: ") && missing.err().contains("no LoRA named 'nope'") && missing.err().strip().lines().count() == 1,
                missing.err());
        CliRunner noDir = run(small("-p", "<lora:tinylora> a cat", "--out", out.toString()));
        assertEquals(1, noDir.exitCode());
        assertTrue(noDir.err().contains("no LoRA folder is set"), noDir.err());
        CliRunner badTag = run(small("-p", "<lora:tinylora:lots> a cat", "--lora-dir", loras.toString(), "--out", out.toString()));
        assertEquals(1, badTag.exitCode());
        assertTrue(badTag.err().contains("is not a number"), badTag.err());
        CliRunner noFile = run(small("-p", "a cat", "--lora", dir.resolve("absent.safetensors").toString(), "--out", out.toString()));
        assertEquals(1, noFile.exitCode());
        assertTrue(noFile.err().contains("absent.safetensors"), noFile.err());
        assertEquals(2, run(small("-p", "a cat", "--vae-tiling", "sideways")).exitCode());
        assertEquals(2, run(small("-p", "a cat", "--vae-tile-size", "100")).exitCode());
        assertEquals(2, run(small("-p", "a cat", "--vae-decoder", "taesd")).exitCode());
        CliRunner preview = run(small("-p", "a cat", "--preview", "taesd", "--intermediates", dir.resolve("s").toString()));
        assertEquals(2, preview.exitCode());
        assertTrue(preview.err().contains("--taesd"), preview.err());
        CliRunner notVae = run(small("-p", "a cat", "--vae", taesd.toString(), "--out", out.toString()));
        assertEquals(1, notVae.exitCode());
        assertTrue(notVae.err().contains("not a VAE"), notVae.err());
        assertTrue(!Files.exists(out) || out.toFile().list().length == 0, "no image from a failed run");
    }
}
