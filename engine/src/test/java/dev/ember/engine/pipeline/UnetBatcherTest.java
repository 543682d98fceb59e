package dev.ember.engine.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The batcher's bookkeeping against a fake network whose output row r is a known function of input row r
 * (so misplaced rows show), which records the batch sizes it is called with and fails on demand.
 */
class UnetBatcherTest {
    private static final int C = 2, H = 2, W = 3, TOKENS = 2, DIM = 3, VDIM = 4;
    private static final int PLANE = H * W;

    /** out[r][i] = 2 * x[r][i] + t[r] + sum(context[r]) (+ 1000 * sum(vector[r]) when given); fails when a row's timestep is negative and the batch has more than one seat. */
    private static final class FakeUnet implements UnetCall {
        final List<Integer> batches = Collections.synchronizedList(new ArrayList<>());

        @Override
        public void forward(MemorySegment latent, int batch, int height, int width, MemorySegment timesteps, MemorySegment context,
                            int contextTokens, MemorySegment vector, MemorySegment out) {
            batches.add(batch);
            for (int r = 0; r < batch; r++) {
                float t = timesteps.getAtIndex(ValueLayout.JAVA_FLOAT, r);
                if (t < 0 && (batch > 2 || t < -100)) throw new IllegalStateException("fake failure at row " + r);
                float ctx = 0;
                for (int i = 0; i < contextTokens * DIM; i++) ctx += context.getAtIndex(ValueLayout.JAVA_FLOAT, (long) r * contextTokens * DIM + i);
                if (vector != null) for (int i = 0; i < VDIM; i++) ctx += 1000 * vector.getAtIndex(ValueLayout.JAVA_FLOAT, (long) r * VDIM + i);
                for (int i = 0; i < C * PLANE; i++) {
                    float x = latent.getAtIndex(ValueLayout.JAVA_FLOAT, (long) r * C * PLANE + i);
                    out.setAtIndex(ValueLayout.JAVA_FLOAT, (long) r * C * PLANE + i, 2 * x + t + ctx);
                }
            }
        }
    }

    /** One seat's call: inputs derived from {@code id}, the output compared with the fake's formula. */
    private static float[] call(UnetCall seat, int id, int rows, float timestep) {
        return call(seat, id, rows, timestep, false);
    }

    /** As above; {@code vectors}: each row also gets vector conditioning derived from {@code id}. */
    private static float[] call(UnetCall seat, int id, int rows, float timestep, boolean vectors) {
        try (Arena arena = Arena.ofShared()) { // other threads lead batches: the seat's buffers must be shared
            MemorySegment x = arena.allocate((long) rows * C * PLANE * 4), t = arena.allocate(rows * 4L),
                    c = arena.allocate((long) rows * TOKENS * DIM * 4), o = arena.allocate((long) rows * C * PLANE * 4);
            for (int i = 0; i < rows * C * PLANE; i++) x.setAtIndex(ValueLayout.JAVA_FLOAT, i, id * 100 + i);
            for (int r = 0; r < rows; r++) t.setAtIndex(ValueLayout.JAVA_FLOAT, r, timestep + r);
            for (int i = 0; i < rows * TOKENS * DIM; i++) c.setAtIndex(ValueLayout.JAVA_FLOAT, i, id + i * 0.5f);
            MemorySegment v = vectors ? arena.allocate((long) rows * VDIM * 4) : null;
            for (int i = 0; vectors && i < rows * VDIM; i++) v.setAtIndex(ValueLayout.JAVA_FLOAT, i, id + i);
            seat.forward(x, rows, H, W, t, c, TOKENS, v, o);
            return o.toArray(ValueLayout.JAVA_FLOAT);
        }
    }

    private static float[] expected(int id, int rows, float timestep) {
        return expected(id, rows, timestep, false);
    }

    private static float[] expected(int id, int rows, float timestep, boolean vectors) {
        float[] out = new float[rows * C * PLANE];
        for (int r = 0; r < rows; r++) {
            float ctx = 0;
            for (int i = 0; i < TOKENS * DIM; i++) ctx += id + (r * TOKENS * DIM + i) * 0.5f;
            for (int i = 0; vectors && i < VDIM; i++) ctx += 1000 * (float) (id + r * VDIM + i);
            for (int i = 0; i < C * PLANE; i++) out[r * C * PLANE + i] = 2 * (id * 100 + r * C * PLANE + i) + (timestep + r) + ctx;
        }
        return out;
    }

    @Test
    void seatsThatCallTogetherShareCallsInChunksOfAtMostMaxRows() throws Exception {
        FakeUnet fake = new FakeUnet();
        // three seats of two rows per call; each row with its own vector conditioning (SDXL), which must follow its row
        UnetBatcher batcher = new UnetBatcher(fake, 6, C, C, DIM, VDIM);
        int seats = 5, steps = 4;
        ExecutorService pool = Executors.newFixedThreadPool(seats);
        CountDownLatch joined = new CountDownLatch(seats);
        List<Future<?>> futures = new ArrayList<>();
        for (int id = 0; id < seats; id++) {
            int seatId = id;
            futures.add(pool.submit(() -> {
                try (UnetBatcher.Seat seat = batcher.join(2, H, W, TOKENS)) {
                    joined.countDown();
                    joined.await();
                    for (int step = 0; step < steps; step++) {
                        assertArrayEquals(expected(seatId, 2, step * 10, true), call(seat, seatId, 2, step * 10, true),
                                "seat " + seatId + " step " + step);
                    }
                }
                return null;
            }));
        }
        for (Future<?> f : futures) f.get(30, TimeUnit.SECONDS);
        pool.shutdown();
        // Every step all five seats call: one call of 3 seats (6 rows) and one of 2 (4 rows).
        assertEquals(2 * steps, fake.batches.size(), fake.batches.toString());
        for (int rows : fake.batches) assertTrue(rows == 6 || rows == 4, fake.batches.toString());
        UnetBatcher.Stats stats = batcher.stats();
        assertEquals(2L * steps, stats.unetCalls());
        assertEquals((long) seats * steps, stats.seatCalls());
        assertEquals(3, stats.largestCall());
    }

    @Test
    void aFailingBatchIsRetriedSeatBySeatAndOnlyTheFailingSeatSeesTheError() throws Exception {
        FakeUnet fake = new FakeUnet();
        UnetBatcher batcher = new UnetBatcher(fake, 8, C, C, DIM);
        CountDownLatch joined = new CountDownLatch(3);
        ExecutorService pool = Executors.newFixedThreadPool(3);
        // Seat 0's timestep -1 makes any batch of more than one seat fail, but works alone; seat 2's -500 always fails.
        float[] timesteps = {-1, 5, -500};
        List<Future<float[]>> futures = new ArrayList<>();
        for (int id = 0; id < 3; id++) {
            int seatId = id;
            futures.add(pool.submit(() -> {
                try (UnetBatcher.Seat seat = batcher.join(2, H, W, TOKENS)) {
                    joined.countDown();
                    joined.await();
                    return call(seat, seatId, 2, timesteps[seatId]);
                }
            }));
        }
        assertArrayEquals(expected(0, 2, -1), futures.get(0).get(30, TimeUnit.SECONDS));
        assertArrayEquals(expected(1, 2, 5), futures.get(1).get(30, TimeUnit.SECONDS));
        var failure = assertThrows(java.util.concurrent.ExecutionException.class, () -> futures.get(2).get(30, TimeUnit.SECONDS));
        assertTrue(failure.getCause().getMessage().contains("fake failure"), failure.getCause().toString());
        pool.shutdown();
    }

    @Test
    void singleRowSeatsNeverWaitAndWrongShapesAreRefused() {
        FakeUnet fake = new FakeUnet();
        UnetBatcher batcher = new UnetBatcher(fake, 4, C, C, DIM);
        try (UnetBatcher.Seat paired = batcher.join(2, H, W, TOKENS); UnetBatcher.Seat single = batcher.join(1, H, W, TOKENS)) {
            // The paired seat has not called: a batched seat would wait for it forever; a single row runs at once.
            assertArrayEquals(expected(7, 1, 3), call(single, 7, 1, 3));
            assertEquals(List.of(1), fake.batches);
            assertThrows(IllegalArgumentException.class, () -> call(paired, 1, 1, 0));
        }
        assertThrows(IllegalArgumentException.class, () -> batcher.join(5, H, W, TOKENS));
        assertThrows(IllegalArgumentException.class, () -> new UnetBatcher(fake, 1, C, C, DIM));
    }

    @Test
    void aSeatThatLeavesReleasesTheOthers() throws Exception {
        FakeUnet fake = new FakeUnet();
        UnetBatcher batcher = new UnetBatcher(fake, 4, C, C, DIM);
        UnetBatcher.Seat idle = batcher.join(2, H, W, TOKENS);
        ExecutorService pool = Executors.newSingleThreadExecutor();
        Future<float[]> waiting = pool.submit(() -> {
            try (UnetBatcher.Seat seat = batcher.join(2, H, W, TOKENS)) {
                return call(seat, 3, 2, 1);
            }
        });
        Thread.sleep(200);
        assertTrue(!waiting.isDone(), "waits for the idle seat's call");
        idle.close();
        assertArrayEquals(expected(3, 2, 1), waiting.get(30, TimeUnit.SECONDS));
        pool.shutdown();
    }
}
