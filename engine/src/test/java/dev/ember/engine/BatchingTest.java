package dev.ember.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ember.engine.image.RgbImage;
import dev.ember.engine.sampling.Sampler;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Generations that share a {@link Batching} give, bit for bit, the latents and pixels that plain serial
 * {@code generate} calls give, while their UNet calls really are batched.
 */
class BatchingTest {
    private static StableDiffusion sd;

    @BeforeAll
    static void load() {
        sd = StableDiffusion.load(TinyModels.tinySafetensors(), ModelOptions.defaults().withThreads(2));
    }

    @AfterAll
    static void close() {
        sd.close();
    }

    /** A result and the final latent its listener saw. */
    private record Run(RgbImage image, float[] latent) {}

    private static Run run(GenerationRequest request, Batching batching, StepListener extra) {
        float[][] last = new float[1][];
        GenerationResult result = sd.generate(request, e -> {
            last[0] = e.latent().toArray(ValueLayout.JAVA_FLOAT);
            return extra.onStep(e);
        }, w -> {}, batching);
        return new Run(result.images().getFirst().image(), last[0]);
    }

    /** Runs each request on its own thread at once with one batching; a start latch makes them overlap. */
    private static List<Future<Run>> concurrently(ExecutorService pool, List<GenerationRequest> requests, Batching batching,
                                                  List<StepListener> extras) {
        CountDownLatch start = new CountDownLatch(requests.size());
        List<Future<Run>> futures = new ArrayList<>();
        for (int i = 0; i < requests.size(); i++) {
            GenerationRequest r = requests.get(i);
            StepListener extra = extras.get(i);
            futures.add(pool.submit(() -> {
                start.countDown();
                start.await();
                return run(r, batching, extra);
            }));
        }
        return futures;
    }

    private static List<Run> allAtOnce(List<GenerationRequest> requests, Batching batching) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(requests.size());
        try {
            List<Run> runs = new ArrayList<>();
            for (Future<Run> f : concurrently(pool, requests, batching, none(requests.size()))) runs.add(f.get(120, TimeUnit.SECONDS));
            return runs;
        } finally {
            pool.shutdownNow();
        }
    }

    private static void assertSameRuns(List<Run> serial, List<Run> batched) {
        for (int i = 0; i < serial.size(); i++) {
            assertArrayEquals(serial.get(i).latent(), batched.get(i).latent(), "final latent of request " + i);
            assertEquals(serial.get(i).image(), batched.get(i).image(), "pixels of request " + i);
        }
    }

    private static List<StepListener> none(int n) {
        List<StepListener> l = new ArrayList<>();
        for (int i = 0; i < n; i++) l.add(StepListener.NONE);
        return l;
    }

    @Test
    void concurrentGenerationsAreBatchedAndGiveTheirSerialPixels() throws Exception {
        // Same size, everything else differs: prompts, seeds, samplers (Heun calls twice per step), steps, cfg, img2img.
        RgbImage init = sd.generate(GenerationRequest.builder("init").size(72, 64).steps(3).seed(1).build(), StepListener.NONE)
                .images().getFirst().image();
        List<GenerationRequest> requests = List.of(
                GenerationRequest.builder("a red barn").size(72, 64).steps(6).seed(11).sampler(Sampler.EULER).cfgScale(7).build(),
                GenerationRequest.builder("a blue lake").negativePrompt("fog").size(72, 64).steps(6).seed(12).sampler(Sampler.EULER_A).cfgScale(5).build(),
                GenerationRequest.builder("a green hill").size(72, 64).steps(4).seed(13).sampler(Sampler.HEUN).cfgScale(9).build(),
                GenerationRequest.builder("a grey city").size(72, 64).steps(8).seed(14).sampler(Sampler.LMS).initImage(init).strength(0.6).build(),
                GenerationRequest.builder("a lighthouse").size(72, 64).steps(5).seed(15).sampler(Sampler.DPMPP_2M).cfgScale(7.5).build());
        List<Run> serial = new ArrayList<>();
        for (GenerationRequest r : requests) serial.add(run(r, null, StepListener.NONE));

        Batching batching = sd.batching(4);
        assertSameRuns(serial, allAtOnce(requests, batching));
        Batching.Stats stats = batching.stats();
        assertEquals(4, stats.largestBatch(), "five images at once with at most four per call: " + stats);
        assertTrue(stats.unetCalls() < stats.imageEvaluations(), "calls were shared: " + stats);
    }

    @Test
    void imagesWithoutGuidanceOrOfAnotherSizeRunAloneAndStillMatch() throws Exception {
        List<GenerationRequest> requests = List.of(
                GenerationRequest.builder("no guidance a").size(64, 64).steps(5).seed(21).cfgScale(1).sampler(Sampler.EULER).build(),
                GenerationRequest.builder("no guidance b").size(64, 64).steps(5).seed(22).cfgScale(1).sampler(Sampler.EULER).build(),
                GenerationRequest.builder("guided").size(64, 64).steps(5).seed(23).sampler(Sampler.EULER).build(),
                GenerationRequest.builder("other size").size(80, 64).steps(5).seed(24).sampler(Sampler.EULER).build());
        List<Run> serial = new ArrayList<>();
        for (GenerationRequest r : requests) serial.add(run(r, null, StepListener.NONE));
        Batching batching = sd.batching(4);
        assertSameRuns(serial, allAtOnce(requests, batching));
        assertEquals(1, batching.stats().largestBatch(), "nothing could share a call: " + batching.stats());
    }

    @Test
    void aCancelledGenerationLeavesTheBatchAndTheOthersFinishUnchanged() throws Exception {
        List<GenerationRequest> requests = List.of(
                GenerationRequest.builder("keeps going").size(64, 64).steps(8).seed(31).sampler(Sampler.EULER).build(),
                GenerationRequest.builder("cancelled at step 3").size(64, 64).steps(8).seed(32).sampler(Sampler.EULER).build(),
                GenerationRequest.builder("also keeps going").size(64, 64).steps(8).seed(33).sampler(Sampler.EULER_A).build());
        Run first = run(requests.get(0), null, StepListener.NONE), third = run(requests.get(2), null, StepListener.NONE);
        Batching batching = sd.batching(3);
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try {
            List<StepListener> extras = List.of(StepListener.NONE,
                    e -> e.step() == 3 ? StepListener.Action.CANCEL : StepListener.Action.CONTINUE, StepListener.NONE);
            List<Future<Run>> futures = concurrently(pool, requests, batching, extras);
            ExecutionException cancelled = assertThrows(ExecutionException.class, () -> futures.get(1).get(60, TimeUnit.SECONDS));
            assertInstanceOf(GenerationCancelledException.class, cancelled.getCause());
            assertArrayEquals(first.latent(), futures.get(0).get(60, TimeUnit.SECONDS).latent());
            assertArrayEquals(third.latent(), futures.get(2).get(60, TimeUnit.SECONDS).latent());
        } finally {
            pool.shutdownNow();
        }
        assertEquals(3, batching.stats().largestBatch(), batching.stats().toString());
    }

    @Test
    void aBatchingBelongsToItsModelAndCapsItsSize() {
        assertThrows(IllegalArgumentException.class, () -> sd.batching(0));
        assertThrows(IllegalArgumentException.class, () -> sd.batching(GenerationRequest.MAX_IMAGES + 1));
        try (StableDiffusion other = StableDiffusion.load(TinyModels.tinySafetensors(), ModelOptions.defaults().withThreads(1))) {
            Batching foreign = other.batching(2);
            assertThrows(IllegalArgumentException.class, () -> sd.generate(GenerationRequest.builder("x").size(64, 64).steps(1).build(),
                    StepListener.NONE, w -> {}, foreign));
        }
    }
}
