package dev.ember.engine.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class OnDemandTest {
    /** Counts loads, closes and how many are alive at once. */
    static final class Counter {
        final AtomicInteger loads = new AtomicInteger();
        final AtomicInteger closes = new AtomicInteger();
        final AtomicInteger alive = new AtomicInteger();
        final AtomicInteger maxAlive = new AtomicInteger();

        Thing load() {
            loads.incrementAndGet();
            maxAlive.accumulateAndGet(alive.incrementAndGet(), Math::max);
            return new Thing(this);
        }
    }

    static final class Thing implements AutoCloseable {
        private final Counter counter;
        int closed;

        Thing(Counter counter) {
            this.counter = counter;
        }

        @Override
        public void close() {
            closed++;
            counter.alive.decrementAndGet();
            counter.closes.incrementAndGet();
        }
    }

    @Test
    void perUseLoadsOnFirstLeaseSharesItAndFreesItWhenTheLastLeaseCloses() {
        Counter c = new Counter();
        OnDemand<Thing> od = OnDemand.perUse("thing", c::load);
        assertTrue(od.perUse());
        assertFalse(od.loaded());
        assertEquals(0, c.loads.get());
        Thing first;
        try (OnDemand.Lease<Thing> a = od.acquire()) {
            assertTrue(od.loaded());
            first = a.get();
            try (OnDemand.Lease<Thing> b = od.acquire()) {
                assertSame(first, b.get());
            }
            assertTrue(od.loaded(), "one lease still out");
            assertEquals(0, first.closed);
        }
        assertFalse(od.loaded());
        assertEquals(1, first.closed);
        assertEquals(1, c.loads.get());
        try (OnDemand.Lease<Thing> again = od.acquire()) {
            assertNotSame(first, again.get(), "loaded afresh");
        }
        assertEquals(2, c.loads.get());
        assertEquals(2, c.closes.get());
        od.close();
        assertEquals(2, c.closes.get());
    }

    @Test
    void aLeaseClosedTwiceCountsOnceAndCannotBeUsedAfterwards() {
        Counter c = new Counter();
        OnDemand<Thing> od = OnDemand.perUse("thing", c::load);
        OnDemand.Lease<Thing> a = od.acquire();
        OnDemand.Lease<Thing> b = od.acquire();
        a.close();
        a.close();
        assertTrue(od.loaded(), "b still holds it");
        IllegalStateException e = assertThrows(IllegalStateException.class, a::get);
        assertTrue(e.getMessage().contains("thing"), e.getMessage());
        b.close();
        assertFalse(od.loaded());
        assertEquals(1, c.closes.get());
    }

    @Test
    void aFailingLoaderLeavesNothingLoadedAndTheNextAcquireTriesAgain() {
        Counter c = new Counter();
        AtomicInteger calls = new AtomicInteger();
        OnDemand<Thing> od = OnDemand.perUse("thing", () -> {
            if (calls.incrementAndGet() == 1) throw new IllegalStateException("no memory");
            return c.load();
        });
        assertEquals("no memory", assertThrows(IllegalStateException.class, od::acquire).getMessage());
        assertFalse(od.loaded());
        try (OnDemand.Lease<Thing> l = od.acquire()) {
            assertEquals(0, l.get().closed);
        }
        assertEquals(1, c.closes.get());
    }

    @Test
    void residentStaysLoadedUntilCloseWhichIsIdempotent() {
        Counter c = new Counter();
        Thing thing = c.load();
        OnDemand<Thing> od = OnDemand.resident("thing", thing);
        assertFalse(od.perUse());
        assertTrue(od.loaded());
        for (int i = 0; i < 3; i++) {
            try (OnDemand.Lease<Thing> l = od.acquire()) {
                assertSame(thing, l.get());
            }
        }
        assertTrue(od.loaded());
        assertEquals(0, thing.closed);
        od.close();
        od.close();
        assertEquals(1, thing.closed);
        assertFalse(od.loaded());
        IllegalStateException e = assertThrows(IllegalStateException.class, od::acquire);
        assertEquals("thing is closed", e.getMessage());
    }

    @Test
    void closeFreesTheValueEvenWithALeaseOutAndTheLeaseThenReleasesNothing() {
        Counter c = new Counter();
        OnDemand<Thing> od = OnDemand.perUse("thing", c::load);
        OnDemand.Lease<Thing> l = od.acquire();
        Thing t = l.get();
        od.close();
        assertEquals(1, t.closed);
        l.close();
        assertEquals(1, t.closed, "closed exactly once");
        assertThrows(IllegalStateException.class, od::acquire);
    }

    @Test
    void concurrentLeasesNeverLoadTwoAtOnceAndFreeEverythingTheyLoad() throws Exception {
        Counter c = new Counter();
        OnDemand<Thing> od = OnDemand.perUse("thing", c::load);
        int threads = 8;
        CountDownLatch start = new CountDownLatch(1);
        try (ExecutorService pool = Executors.newFixedThreadPool(threads)) {
            List<Future<?>> futures = new ArrayList<>();
            for (int i = 0; i < threads; i++) {
                futures.add(pool.submit(() -> {
                    start.await();
                    for (int k = 0; k < 2000; k++) {
                        try (OnDemand.Lease<Thing> l = od.acquire()) {
                            if (l.get().closed != 0) throw new AssertionError("lent a closed value");
                        }
                    }
                    return null;
                }));
            }
            start.countDown();
            for (Future<?> f : futures) f.get();
        }
        assertFalse(od.loaded());
        assertEquals(1, c.maxAlive.get(), "at most one value alive at a time");
        assertEquals(c.loads.get(), c.closes.get(), "every load freed");
        assertTrue(c.loads.get() >= 1);
    }
}
