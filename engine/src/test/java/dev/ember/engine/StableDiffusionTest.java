package dev.ember.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ember.engine.image.RgbImage;
import dev.ember.engine.sampling.Sampler;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** txt2img and img2img end to end on the tiny synthetic model. */
class StableDiffusionTest {
    private static StableDiffusion sd;

    @BeforeAll
    static void load() {
        sd = StableDiffusion.load(TinyModels.tinySafetensors(), ModelOptions.defaults().withThreads(2));
    }

    @AfterAll
    static void close() {
        sd.close();
    }

    static GenerationRequest.Builder small(String prompt) {
        return GenerationRequest.builder(prompt).size(64, 64).steps(6).seed(7);
    }

    @Test
    void txt2imgDeliversStepZeroAndEveryStep() {
        List<StepEvent> events = new ArrayList<>();
        GenerationResult result = sd.generate(small("a photo of a cat").build(), e -> {
            events.add(e);
            return StepListener.Action.CONTINUE;
        });
        assertEquals(1, result.images().size());
        RgbImage image = result.images().getFirst().image();
        assertEquals(64, image.width());
        assertEquals(64, image.height());
        assertEquals(7, events.size(), "step 0 and 6 steps");
        for (int i = 0; i < events.size(); i++) {
            StepEvent e = events.get(i);
            assertEquals(i, e.step());
            assertEquals(6, e.totalSteps());
            assertEquals(4L * 8 * 8 * Float.BYTES, e.latent().byteSize());
            if (i == 0) assertNull(e.denoised());
            else assertNotNull(e.denoised());
        }
        // Sigmas fall to zero; step 0 is pure noise at sigma_max, so its spread is about sigma_max.
        assertEquals(0.0, events.getLast().sigma());
        assertTrue(events.get(0).sigma() > 14 && events.get(0).sigma() < 15, "sigma_max " + events.get(0).sigma());
        float[] start = events.get(0).latent().toArray(ValueLayout.JAVA_FLOAT);
        double var = 0;
        for (float v : start) var += v * v;
        double std = Math.sqrt(var / start.length);
        assertTrue(std > 10 && std < 19, "initial latent std " + std);
    }

    @Test
    void eachStepCarriesTheLatentItEndedWithAndTheLastIsTheFinalOne() {
        for (dev.ember.engine.sampling.Sampler sampler : dev.ember.engine.sampling.Sampler.values()) {
            List<StepEvent> events = new ArrayList<>();
            GenerationResult result = sd.generate(small("steps").steps(4).sampler(sampler).build(), e -> {
                events.add(e);
                return StepListener.Action.CONTINUE;
            });
            for (int i = 1; i < events.size(); i++) {
                assertFalse(java.util.Arrays.equals(events.get(i - 1).latent().toArray(ValueLayout.JAVA_FLOAT),
                        events.get(i).latent().toArray(ValueLayout.JAVA_FLOAT)), sampler + ": step " + i + " moved the latent");
                assertTrue(events.get(i).sigma() < events.get(i - 1).sigma(), sampler + ": sigma falls");
            }
            StepEvent last = events.getLast();
            assertEquals(result.images().getFirst().image(), sd.decodePreview(last.latent(), last.latentHeight(), last.latentWidth()),
                    sampler + ": the last step's latent decodes to the result");
        }
    }

    @Test
    void img2imgRunsIntStepsTimesStrength() {
        RgbImage init = sd.generate(small("init").steps(2).build(), StepListener.NONE).images().getFirst().image();
        for (Sampler sampler : new Sampler[] {Sampler.LMS, Sampler.DDIM}) {
            for (double[] c : new double[][] {{0.7, 7}, {0.4, 4}, {1.0, 10}}) {
                List<Integer> steps = new ArrayList<>();
                GenerationResult r = sd.generate(small("a cat").steps(10).sampler(sampler).initImage(init).strength(c[0]).build(), e -> {
                    steps.add(e.step());
                    return StepListener.Action.CONTINUE;
                });
                assertEquals((int) c[1], r.stepsRun(), sampler + " strength " + c[0]);
                assertEquals((int) c[1] + 1, steps.size(), sampler + ": step 0 plus each step at strength " + c[0]);
            }
        }
    }

    @Test
    void img2imgAtStrengthZeroReturnsTheInitImageThroughTheVae() {
        RgbImage init = sd.generate(small("init").steps(2).build(), StepListener.NONE).images().getFirst().image();
        GenerationResult r = sd.generate(small("anything").initImage(init).strength(0).build(), StepListener.NONE);
        assertEquals(0, r.stepsRun());
        RgbImage roundTrip = r.images().getFirst().image();
        // A VAE round trip is not the identity, but with no sampling steps the result depends only on the init image.
        GenerationResult again = sd.generate(small("another prompt").seed(99).initImage(init).strength(0).build(), StepListener.NONE);
        assertArrayEquals(roundTrip.rgb(), again.images().getFirst().image().rgb());
    }

    @Test
    void sameSeedSameBytesDifferentSeedDifferentBytes() {
        GenerationRequest request = small("same").build();
        byte[] a = sd.generate(request, StepListener.NONE).images().getFirst().image().rgb();
        byte[] b = sd.generate(request, StepListener.NONE).images().getFirst().image().rgb();
        assertArrayEquals(a, b);
        byte[] c = sd.generate(small("same").seed(8).build(), StepListener.NONE).images().getFirst().image().rgb();
        assertFalse(java.util.Arrays.equals(a, c));
    }

    @Test
    void oneAndTwoThreadsGiveIdenticalImages() {
        GenerationRequest request = small("threads").build();
        byte[] two = sd.generate(request, StepListener.NONE).images().getFirst().image().rgb();
        try (StableDiffusion one = StableDiffusion.load(TinyModels.tinySafetensors(), ModelOptions.defaults().withThreads(1))) {
            assertArrayEquals(two, one.generate(request, StepListener.NONE).images().getFirst().image().rgb());
        }
    }

    @Test
    void batchImagesUseConsecutiveSeeds() {
        GenerationResult batch = sd.generate(small("batch").images(2).build(), StepListener.NONE);
        assertEquals(List.of(7L, 8L), batch.images().stream().map(GeneratedImage::seed).toList());
        byte[] second = sd.generate(small("batch").seed(8).build(), StepListener.NONE).images().getFirst().image().rgb();
        assertArrayEquals(second, batch.images().get(1).image().rgb());
    }

    @Test
    void concurrentGenerationsMatchSerialOnes() throws Exception {
        List<GenerationRequest> requests = new ArrayList<>();
        for (int i = 0; i < 4; i++) requests.add(small("concurrent " + i).seed(100 + i).sampler(i % 2 == 0 ? Sampler.LMS : Sampler.EULER_A).build());
        List<byte[]> serial = new ArrayList<>();
        for (GenerationRequest r : requests) serial.add(sd.generate(r, StepListener.NONE).images().getFirst().image().rgb());
        try (ExecutorService pool = Executors.newFixedThreadPool(4)) {
            List<Future<byte[]>> futures = new ArrayList<>();
            for (GenerationRequest r : requests) futures.add(pool.submit(() -> sd.generate(r, StepListener.NONE).images().getFirst().image().rgb()));
            for (int i = 0; i < requests.size(); i++) assertArrayEquals(serial.get(i), futures.get(i).get(), "request " + i);
        }
    }

    @Test
    void listenerCanCancel() {
        List<Integer> seen = new ArrayList<>();
        assertThrows(GenerationCancelledException.class, () -> sd.generate(small("cancel").build(), e -> {
            seen.add(e.step());
            return e.step() == 2 ? StepListener.Action.CANCEL : StepListener.Action.CONTINUE;
        }));
        assertEquals(List.of(0, 1, 2), seen);
    }

    @Test
    void listenerExceptionStopsTheGenerationAndReachesTheCaller() {
        IllegalStateException boom = new IllegalStateException("boom");
        GenerationCancelledException e = assertThrows(GenerationCancelledException.class, () -> sd.generate(small("throw").build(), ev -> {
            if (ev.step() == 3) throw boom;
            return StepListener.Action.CONTINUE;
        }));
        assertSame(boom, e.getCause());
    }

    @Test
    void guidanceChangesTheImageAndCfgOneSkipsTheNegativePrompt() {
        byte[] guided = sd.generate(small("cfg").cfgScale(7.5).build(), StepListener.NONE).images().getFirst().image().rgb();
        byte[] plain = sd.generate(small("cfg").cfgScale(1).build(), StepListener.NONE).images().getFirst().image().rgb();
        byte[] plainOtherNegative = sd.generate(small("cfg").cfgScale(1).negativePrompt("ugly").build(), StepListener.NONE)
                .images().getFirst().image().rgb();
        assertFalse(java.util.Arrays.equals(guided, plain));
        assertArrayEquals(plain, plainOtherNegative);
    }

    @Test
    void stepCountChangesTheSchedule() {
        byte[] a = sd.generate(small("steps").steps(29).build(), StepListener.NONE).images().getFirst().image().rgb();
        byte[] b = sd.generate(small("steps").steps(30).build(), StepListener.NONE).images().getFirst().image().rgb();
        assertNotEquals(java.util.Arrays.hashCode(a), java.util.Arrays.hashCode(b));
    }

    @Test
    void sizesThatAreMultiplesOfEightButNotOfSixtyFourWork() {
        // 72x80 gives a 9x10 latent, which the UNet halves unevenly (9 -> 5 -> 3) and must restore exactly.
        RgbImage image = sd.generate(small("odd size").size(72, 80).steps(2).build(), StepListener.NONE).images().getFirst().image();
        assertEquals(72, image.width());
        assertEquals(80, image.height());
    }
}
