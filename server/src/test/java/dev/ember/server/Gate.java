package dev.ember.server;

import dev.ember.engine.StepEvent;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * A step hook that holds every generation step until the test lets it pass, so tests can look at a run
 * (progress, previews), interrupt it or walk away from it at a step of their choosing, whatever the machine's speed.
 */
final class Gate implements Consumer<StepEvent> {
    private final Semaphore permits = new Semaphore(0);
    private final BlockingQueue<StepEvent> arrived = new LinkedBlockingQueue<>();

    @Override
    public void accept(StepEvent event) {
        arrived.add(event);
        permits.acquireUninterruptibly();
    }

    /** The next step to arrive at the gate (it waits there until {@link #pass}). */
    StepEvent next() throws InterruptedException {
        StepEvent e = arrived.poll(ServerFixture.TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        if (e == null) throw new AssertionError("no step arrived at the gate");
        return e;
    }

    /** Waits for the step {@code step} of image {@code index}, letting earlier steps pass. */
    StepEvent waitFor(int step) throws InterruptedException {
        while (true) {
            StepEvent e = next();
            if (e.step() == step) return e;
            pass(1);
        }
    }

    void pass(int steps) {
        permits.release(steps);
    }

    void openForGood() {
        permits.release(1_000_000);
    }

    /** Steps that arrived and were not taken with {@link #next()}. */
    int pending() {
        return arrived.size();
    }
}
