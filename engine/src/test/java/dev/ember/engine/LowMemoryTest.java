package dev.ember.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ember.engine.StableDiffusion.Network;
import dev.ember.engine.image.RgbImage;
import dev.ember.engine.nn.TextEncoder;
import dev.ember.engine.nn.Vae;
import dev.ember.engine.pipeline.ModelInternals;
import dev.ember.engine.pipeline.OnDemand;
import dev.ember.engine.sampling.Sampler;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Low-memory mode on the tiny model: only the UNet stays resident, and the images are the default mode's. */
class LowMemoryTest {
    private static final Set<Network> ALL = EnumSet.complementOf(EnumSet.of(Network.TEXT_ENCODER_2)); // SD 1.x: one text encoder
    private static final Set<Network> UNET_ONLY = EnumSet.of(Network.UNET);

    private static StableDiffusion fast;
    private static StableDiffusion low;

    @BeforeAll
    static void load() {
        fast = StableDiffusion.load(TinyModels.tinySafetensors(), ModelOptions.defaults().withThreads(2));
        low = StableDiffusion.load(TinyModels.tinySafetensors(), ModelOptions.defaults().withThreads(2).withLowMemory(true));
    }

    @AfterAll
    static void close() {
        fast.close();
        low.close();
    }

    private static GenerationRequest.Builder small(String prompt) {
        return GenerationRequest.builder(prompt).size(64, 64).steps(4).seed(11);
    }

    private static List<byte[]> pixels(GenerationResult result) {
        return result.images().stream().map(i -> i.image().rgb()).toList();
    }

    private static void assertSameImages(GenerationResult expected, GenerationResult actual, String what) {
        List<byte[]> a = pixels(expected), b = pixels(actual);
        assertEquals(a.size(), b.size(), what);
        for (int i = 0; i < a.size(); i++) assertArrayEquals(a.get(i), b.get(i), what + ", image " + i);
    }

    @Test
    void afterLoadOnlyTheUnetIsResidentInLowMemoryModeAndEverythingInTheDefaultMode() {
        assertEquals(UNET_ONLY, low.residentNetworks());
        assertEquals(ALL, fast.residentNetworks());
    }

    @Test
    void txt2imgGivesTheDefaultModesBytes() {
        List<GenerationRequest> requests = List.of(
                small("a lighthouse at dusk").build(),
                small("a lighthouse at dusk").sampler(Sampler.EULER_A).negativePrompt("fog").seed(3).build(),
                small("two images").images(2).cfgScale(1).build(),
                small("odd size").size(72, 80).steps(2).build());
        for (GenerationRequest r : requests) {
            assertSameImages(fast.generate(r, StepListener.NONE), low.generate(r, StepListener.NONE), r.prompt());
            assertEquals(UNET_ONLY, low.residentNetworks(), "after " + r.prompt());
        }
        assertEquals(ALL, fast.residentNetworks());
    }

    @Test
    void img2imgGivesTheDefaultModesBytes() {
        RgbImage init = fast.generate(small("init").steps(2).build(), StepListener.NONE).images().getFirst().image();
        for (double strength : new double[] {0.0, 0.5, 1.0}) {
            GenerationRequest r = small("a harbour").steps(6).initImage(init).strength(strength).build();
            assertSameImages(fast.generate(r, StepListener.NONE), low.generate(r, StepListener.NONE), "strength " + strength);
            assertEquals(UNET_ONLY, low.residentNetworks(), "after img2img at strength " + strength);
        }
    }

    @Test
    void duringSamplingNeitherTheTextEncoderNorTheVaeIsResidentAndAPreviewDecodeLoadsItsDecoderOnlyForItself() {
        List<Set<Network>> seen = Collections.synchronizedList(new ArrayList<>());
        List<RgbImage> previews = new ArrayList<>();
        RgbImage init = fast.generate(small("init").steps(2).build(), StepListener.NONE).images().getFirst().image();
        GenerationResult r = low.generate(small("watched").steps(6).initImage(init).strength(0.5).build(), e -> {
            seen.add(low.residentNetworks());
            previews.add(low.decodePreview(e.latent(), e.latentHeight(), e.latentWidth()));
            seen.add(low.residentNetworks());
            return StepListener.Action.CONTINUE;
        });
        assertEquals(8, seen.size(), "step 0 and 3 steps, before and after each preview");
        for (Set<Network> s : seen) assertEquals(UNET_ONLY, s);
        assertEquals(r.images().getFirst().image(), previews.getLast(), "the last preview is the result");
        assertEquals(UNET_ONLY, low.residentNetworks());
    }

    @Test
    void aLeaseKeepsItsNetworkLoadedUntilItClosesAndLeasesShareOneNetwork() {
        try (OnDemand.Lease<TextEncoder> a = ModelInternals.textEncoder(low); OnDemand.Lease<TextEncoder> b = ModelInternals.textEncoder(low)) {
            assertSame(a.get(), b.get());
            assertEquals(EnumSet.of(Network.UNET, Network.TEXT_ENCODER), low.residentNetworks());
            int[] tokens = new int[77];
            java.util.Arrays.fill(tokens, 49407);
            tokens[0] = 49406;
            assertArrayEquals(a.get().encode(tokens, 1, 77, 1), b.get().encode(tokens, 1, 77, 1));
        }
        assertEquals(UNET_ONLY, low.residentNetworks());
        try (OnDemand.Lease<Vae> decoder = ModelInternals.vaeDecoder(low); OnDemand.Lease<Vae> encoder = ModelInternals.vaeEncoder(low)) {
            assertEquals(Vae.Parts.DECODER, decoder.get().parts());
            assertEquals(Vae.Parts.ENCODER, encoder.get().parts());
            assertEquals(EnumSet.of(Network.UNET, Network.VAE_DECODER, Network.VAE_ENCODER), low.residentNetworks());
            assertTrue(decoder.get().stats().weightBytes() > 0);
        }
        assertEquals(UNET_ONLY, low.residentNetworks());
        // The default mode lends its one resident VAE (both halves) for both roles.
        try (OnDemand.Lease<Vae> decoder = ModelInternals.vaeDecoder(fast); OnDemand.Lease<Vae> encoder = ModelInternals.vaeEncoder(fast)) {
            assertSame(decoder.get(), encoder.get());
            assertEquals(Vae.Parts.BOTH, decoder.get().parts());
        }
        assertEquals(ALL, fast.residentNetworks());
    }

    @Test
    void aNetworkLoadedAgainIsANewCopyThatComputesTheSame() {
        float[] first, second;
        TextEncoder before;
        int[] tokens = new int[2 * 77];
        java.util.Arrays.fill(tokens, 49407);
        tokens[0] = tokens[77] = 49406;
        tokens[1] = 320;
        try (OnDemand.Lease<TextEncoder> text = ModelInternals.textEncoder(low)) {
            before = text.get();
            first = text.get().encode(tokens, 2, 77, 1);
        }
        try (OnDemand.Lease<TextEncoder> text = ModelInternals.textEncoder(low)) {
            assertNotSame(before, text.get(), "freed and loaded again");
            second = text.get().encode(tokens, 2, 77, 1);
        }
        assertArrayEquals(first, second);
        try (OnDemand.Lease<TextEncoder> text = ModelInternals.textEncoder(fast)) {
            assertArrayEquals(first, text.get().encode(tokens, 2, 77, 1), "the default mode's encoder");
        }
    }

    @Test
    void concurrentGenerationsInLowMemoryModeMatchSerialOnes() throws Exception {
        RgbImage init = fast.generate(small("init").steps(2).build(), StepListener.NONE).images().getFirst().image();
        List<GenerationRequest> requests = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            GenerationRequest.Builder b = small("concurrent low " + i).seed(200 + i).sampler(i % 2 == 0 ? Sampler.LMS : Sampler.EULER_A);
            if (i % 2 == 1) b.initImage(init).strength(0.75);
            requests.add(b.build());
        }
        List<GenerationResult> serial = new ArrayList<>();
        for (GenerationRequest r : requests) serial.add(low.generate(r, StepListener.NONE));
        // Distinct prompts, so the concurrent calls also encode text (the prompt cache holds the serial
        // ones: use a fresh model).
        try (StableDiffusion other = StableDiffusion.load(TinyModels.tinySafetensors(),
                ModelOptions.defaults().withThreads(2).withLowMemory(true));
             ExecutorService pool = Executors.newFixedThreadPool(4)) {
            CountDownLatch start = new CountDownLatch(1);
            List<Future<GenerationResult>> futures = new ArrayList<>();
            for (GenerationRequest r : requests) {
                futures.add(pool.submit(() -> {
                    start.await();
                    return other.generate(r, StepListener.NONE);
                }));
            }
            start.countDown();
            for (int i = 0; i < requests.size(); i++) assertSameImages(serial.get(i), futures.get(i).get(), "request " + i);
            assertEquals(UNET_ONLY, other.residentNetworks());
        }
        for (int i = 0; i < requests.size(); i++) {
            assertSameImages(fast.generate(requests.get(i), StepListener.NONE), serial.get(i), "default mode, request " + i);
        }
    }

    @Test
    void closeIsIdempotentAndEverythingAfterItFailsClearly() {
        StableDiffusion sd = StableDiffusion.load(TinyModels.tinySafetensors(), ModelOptions.defaults().withThreads(1).withLowMemory(true));
        OnDemand.Lease<Vae> held = ModelInternals.vaeDecoder(sd);
        sd.close();
        sd.close();
        assertEquals(Set.of(), sd.residentNetworks());
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> sd.generate(small("closed").build(), StepListener.NONE));
        assertEquals("model is closed", e.getMessage());
        assertThrows(IllegalStateException.class, () -> ModelInternals.textEncoder(sd));
        assertThrows(IllegalStateException.class, () -> ModelInternals.vaeEncoder(sd));
        // A lease still out when the model closed: its network is freed, and using it fails rather than crashes.
        assertThrows(IllegalStateException.class, () -> held.get().decode(new float[4 * 8 * 8], 1, 8, 8));
        held.close();
        held.close();

        StableDiffusion f = StableDiffusion.load(TinyModels.tinySafetensors(), ModelOptions.defaults().withThreads(1));
        f.close();
        f.close();
        assertEquals("model is closed",
                assertThrows(IllegalStateException.class, () -> f.generate(small("closed").build(), StepListener.NONE)).getMessage());
    }

    @Test
    void aCkptWithCompressedStoragesKeepsItsNetworksResidentInLowMemoryMode(@TempDir Path dir) throws Exception {
        Path deflated = TinyModels.deflatedCkpt(dir), stored = dir.resolve("tiny.ckpt");
        GenerationRequest r = small("compressed").build();
        ModelOptions lowMemory = ModelOptions.defaults().withThreads(2).withLowMemory(true);
        try (StableDiffusion mapped = StableDiffusion.load(stored, lowMemory); StableDiffusion inflated = StableDiffusion.load(deflated, lowMemory)) {
            assertEquals(UNET_ONLY, mapped.residentNetworks());
            assertEquals(ALL, inflated.residentNetworks(), "the inflated file is not kept: its networks are");
            GenerationResult a = mapped.generate(r, StepListener.NONE);
            assertSameImages(a, inflated.generate(r, StepListener.NONE), "stored vs deflated");
            assertSameImages(fast.generate(r, StepListener.NONE), a, "ckpt vs safetensors");
            assertEquals(ALL, inflated.residentNetworks());
        }
    }
}
