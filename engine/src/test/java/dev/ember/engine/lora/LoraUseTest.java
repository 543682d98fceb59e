package dev.ember.engine.lora;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ember.engine.AddOns;
import dev.ember.engine.GenerationRequest;
import dev.ember.engine.ModelFileException;
import dev.ember.engine.ModelOptions;
import dev.ember.engine.StableDiffusion;
import dev.ember.engine.TinyModels;
import dev.ember.engine.image.RgbImage;
import dev.ember.engine.model.DType;
import dev.ember.engine.model.ModelPreset;
import dev.ember.engine.model.SafetensorsWriter;
import dev.ember.engine.model.SyntheticLora;
import dev.ember.engine.model.TensorSource;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** LoRAs as users meet them: prompt tags, the folder, both key formats, refusals, and concurrent requests with different sets. */
class LoraUseTest {
    @TempDir
    static Path dir;
    static Path loras;
    static StableDiffusion sd;

    @BeforeAll
    static void setUp() throws Exception {
        loras = Files.createDirectories(dir.resolve("loras"));
        Files.createDirectories(loras.resolve("styles"));
        SyntheticLora.write(loras.resolve("kohya.safetensors"), ModelPreset.TINY.spec(), 4, 2, 1, DType.F16, SyntheticLora.Format.KOHYA);
        SyntheticLora.write(loras.resolve("styles/Peft.safetensors"), ModelPreset.TINY.spec(), 2, 2, 2, DType.F32, SyntheticLora.Format.PEFT);
        sd = StableDiffusion.load(TinyModels.tinySafetensors(), ModelOptions.defaults().withThreads(2).withAddOns(AddOns.none().withLoraDir(loras)));
    }

    @AfterAll
    static void tearDown() {
        sd.close();
    }

    static GenerationRequest.Builder request(String prompt) {
        return GenerationRequest.builder(prompt).size(64, 64).steps(2).seed(3);
    }

    static RgbImage image(GenerationRequest r, List<String> warnings) {
        return sd.generate(r, e -> dev.ember.engine.StepListener.Action.CONTINUE, warnings::add).images().getFirst().image();
    }

    static int[] pixels(RgbImage i) {
        return i.toBufferedImage().getRGB(0, 0, i.width(), i.height(), null, 0, i.width());
    }

    @Test
    void tagsAreCutOutAndFindTheirFilesInTheFolderAndSubfolders() {
        List<String> warnings = new ArrayList<>();
        int[] plain = pixels(image(request("a red boat").build(), warnings));
        int[] tagged = pixels(image(request("a red <lora:kohya:0.9>boat <lora:peft>").build(), warnings));
        int[] explicit = pixels(image(request("a red boat").lora(loras.resolve("kohya.safetensors"), 0.9)
                .lora(loras.resolve("styles/Peft.safetensors"), 1).build(), warnings));
        assertFalse(java.util.Arrays.equals(plain, tagged), "the tags apply the LoRAs");
        assertArrayEquals(explicit, tagged, "tags (cut out of the text, case-insensitive name, subfolder) = the same LoRAs by path");
        assertTrue(warnings.isEmpty(), "every key of both presets maps to a layer: " + warnings);
        assertEquals(List.of(new dev.ember.engine.Lora(loras.resolve("kohya.safetensors"), 0.9),
                new dev.ember.engine.Lora(loras.resolve("styles/Peft.safetensors"), 1)), sd.lorasOf(request("x <lora:kohya:0.9> <lora:peft>").build()));
        assertArrayEquals(plain, pixels(image(request("a red boat <lora:kohya:0>").build(), warnings)), "weight 0 is no LoRA");
    }

    @Test
    void tagsParse() {
        LoraTags.Parsed p = LoraTags.parse("a <lora:film grain:0.5>cat, <lora:x> on <lora:y:-1.25>");
        assertEquals("a cat,  on ", p.text());
        assertEquals(List.of(new LoraTags.Tag("film grain", 0.5), new LoraTags.Tag("x", 1), new LoraTags.Tag("y", -1.25)), p.tags());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> LoraTags.parse("<lora:a:b>")).getMessage().contains("not a number"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> LoraTags.parse("<lora:a:1:0.5>")).getMessage().contains("separate"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> LoraTags.parse("<lora::1>")).getMessage().contains("no name"));
    }

    @Test
    void unknownNamesAndMissingFoldersAreClearErrors() {
        ModelFileException e = assertThrows(ModelFileException.class, () -> sd.generate(request("<lora:nope>").build(), ev -> null));
        assertTrue(e.getMessage().contains("no LoRA named 'nope'"), e.getMessage());
        try (StableDiffusion bare = StableDiffusion.load(TinyModels.tinySafetensors(), ModelOptions.defaults().withThreads(2))) {
            IllegalArgumentException noDir = assertThrows(IllegalArgumentException.class, () -> bare.generate(request("<lora:kohya>").build(), ev -> null));
            assertTrue(noDir.getMessage().contains("no LoRA folder"), noDir.getMessage());
        }
    }

    @Test
    void loraForAnotherModelIsRefusedNamingTheEvidence() throws Exception {
        int[] before = pixels(image(request("a cat <lora:kohya:0.5>").build(), new ArrayList<>()));
        Path sd15 = dir.resolve("for-sd15.safetensors");
        // Only the text encoder's layers, to keep the file small: 768 wide, the tiny model's are 32.
        List<TensorSource> te = SyntheticLora.tensors(ModelPreset.SD15.spec(), 1, 1, 3, DType.F16, SyntheticLora.Format.KOHYA).stream()
                .filter(t -> t.name().startsWith("lora_te_text_model_encoder_layers_0_")).toList();
        SafetensorsWriter.write(sd15, Map.of(), te);
        ModelFileException e = assertThrows(ModelFileException.class, () -> sd.generate(request("x").lora(sd15, 1).build(), ev -> null));
        assertTrue(e.getMessage().contains("does not fit this SD 1.x model") && e.getMessage().contains("is [32, 32]"), e.getMessage());

        Path sdxl = dir.resolve("sdxl.safetensors");
        SafetensorsWriter.write(sdxl, Map.of(), List.of(
                f32("lora_te1_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight", 1, 32),
                f32("lora_te1_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight", 32, 1)));
        e = assertThrows(ModelFileException.class, () -> sd.generate(request("x").lora(sdxl, 1).build(), ev -> null));
        assertTrue(e.getMessage().contains("is an SDXL LoRA"), e.getMessage());

        Path none = dir.resolve("none.safetensors");
        SafetensorsWriter.write(none, Map.of(), List.of(f32("lora_unet_foo.lora_down.weight", 1, 4), f32("lora_unet_foo.lora_up.weight", 4, 1)));
        e = assertThrows(ModelFileException.class, () -> sd.generate(request("x").lora(none, 1).build(), ev -> null));
        assertTrue(e.getMessage().contains("matches no layer"), e.getMessage());

        Path notLora = dir.resolve("weights.safetensors");
        SafetensorsWriter.write(notLora, Map.of(), List.of(f32("conv.weight", 4, 4)));
        e = assertThrows(ModelFileException.class, () -> sd.generate(request("x").lora(notLora, 1).build(), ev -> null));
        assertTrue(e.getMessage().contains("not a LoRA"), e.getMessage());
        // A refused LoRA changes nothing: the set in place before still gives its image.
        assertArrayEquals(before, pixels(image(request("a cat <lora:kohya:0.5>").build(), new ArrayList<>())));
    }

    @Test
    void aCopiedModelWhoseFileChangedRefusesToMergeFromIt() throws Exception {
        Path copy = dir.resolve("changing.safetensors");
        Files.copy(TinyModels.tinySafetensors(), copy);
        try (StableDiffusion copied = StableDiffusion.load(copy, ModelOptions.defaults().withThreads(2)
                .withFileAccess(dev.ember.engine.ModelFileAccess.COPIED))) {
            byte[] bytes = Files.readAllBytes(copy);
            bytes[bytes.length / 2] ^= 0x55;
            bytes[bytes.length / 3] ^= 0x55;
            Files.write(copy, bytes);
            dev.ember.engine.ModelFileChangedException e = assertThrows(dev.ember.engine.ModelFileChangedException.class,
                    () -> copied.generate(request("x").lora(loras.resolve("kohya.safetensors"), 1).build(), ev -> null));
            assertTrue(e.getMessage().contains("load it again"), e.getMessage());
        }
    }

    static TensorSource f32(String name, long... shape) {
        return new TensorSource(name, DType.F32, shape, seg -> {
            for (long i = 0; i < seg.byteSize() / 4; i++) seg.setAtIndex(ValueLayout.JAVA_FLOAT, i, 0.01f * (i % 7));
        });
    }

    @Test
    void concurrentRequestsWithDifferentSetsGiveTheirSerialImages() throws Exception {
        List<GenerationRequest> requests = List.of(request("a house").build(), request("a house <lora:kohya:1>").build(),
                request("a tree <lora:peft:0.5>").build(), request("a house <lora:kohya:1>").build());
        List<int[]> serial = new ArrayList<>();
        for (GenerationRequest r : requests) serial.add(pixels(image(r, new ArrayList<>())));
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try {
            List<Future<int[]>> futures = new ArrayList<>();
            for (int round = 0; round < 2; round++) {
                for (GenerationRequest r : requests) futures.add(pool.submit(() -> pixels(image(r, new ArrayList<>()))));
            }
            for (int i = 0; i < futures.size(); i++) assertArrayEquals(serial.get(i % requests.size()), futures.get(i).get(), "request " + i);
        } finally {
            pool.shutdownNow();
        }
    }
}
