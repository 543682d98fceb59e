package dev.ember.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The per-JVM holder on its own, with stand-in resources that count their opens and closes. */
class SharedResourcesTest {
    /** A stand-in model. */
    static final class Thing implements AutoCloseable {
        final String key;
        volatile boolean closed;

        Thing(String key) {
            this.key = key;
        }

        @Override
        public void close() {
            closed = true;
        }
    }

    private final AtomicInteger loads = new AtomicInteger();
    private final SharedResources<String, Thing> shared = new SharedResources<>(key -> {
        loads.incrementAndGet();
        try {
            Thread.sleep(50); // a slow load, so concurrent callers really overlap it
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return new Thing(key);
    });

    @Test
    void concurrentTasksShareOneLoad() throws Exception {
        int tasks = 8;
        CountDownLatch go = new CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(tasks);
        try {
            List<Future<Thing>> got = new ArrayList<>();
            for (int i = 0; i < tasks; i++) {
                got.add(pool.submit(() -> {
                    go.await();
                    try (var lease = shared.acquire("model")) {
                        return lease.get();
                    }
                }));
            }
            go.countDown();
            Thing first = got.getFirst().get(10, TimeUnit.SECONDS);
            for (Future<Thing> f : got) assertSame(first, f.get(10, TimeUnit.SECONDS));
        } finally {
            pool.shutdownNow();
        }
        assertEquals(1, loads.get());
        assertEquals(1, shared.loads());
    }

    @Test
    void anIdleResourceStaysForTheNextTaskUntilAnotherKeyLoads() {
        Thing a;
        try (var lease = shared.acquire("a")) {
            a = lease.get();
        }
        try (var lease = shared.acquire("a")) {
            assertSame(a, lease.get());
        }
        assertFalse(a.closed, "kept while idle");
        assertEquals(1, shared.loads());

        var heldA = shared.acquire("a");
        try (var b = shared.acquire("b")) {
            assertFalse(a.closed, "a held resource is never closed for another key");
            assertEquals(Set.of("a", "b"), shared.loaded());
        }
        heldA.close();
        heldA.close(); // idempotent: the count stays right
        try (var c = shared.acquire("c")) {
            assertTrue(a.closed, "idle resources of other keys close before a new key loads");
            assertEquals(Set.of("c"), shared.loaded());
            assertEquals("c", c.get().key);
        }
        assertEquals(3, shared.loads());
    }

    @Test
    void shutdownClosesIdleResourcesNowAndHeldOnesAtTheirLastRelease() {
        Thing idle;
        try (var lease = shared.acquire("idle")) {
            idle = lease.get();
        }
        var held = shared.acquire("held");
        var again = shared.acquire("held");
        shared.shutdown();
        assertTrue(idle.closed);
        assertFalse(held.get().closed, "still in use");
        held.close();
        assertFalse(again.get().closed, "one lease left");
        Thing thing = again.get();
        again.close();
        assertTrue(thing.closed);
        assertThrows(IllegalStateException.class, () -> shared.acquire("held"));
        assertThrows(IllegalStateException.class, again::get);
    }

    @Test
    void aFailedLoadKeepsNothingAndTheNextCallTriesAgain() {
        AtomicInteger calls = new AtomicInteger();
        SharedResources<String, Thing> flaky = new SharedResources<>(key -> {
            if (calls.incrementAndGet() == 1) throw new IllegalStateException("disk hiccup");
            return new Thing(key);
        });
        assertThrows(IllegalStateException.class, () -> flaky.acquire("m"));
        assertEquals(Set.of(), flaky.loaded());
        try (var lease = flaky.acquire("m")) {
            assertEquals("m", lease.get().key);
        }
        assertEquals(1, flaky.loads());
    }
}
