package dev.ember.server;

import dev.ember.engine.GeneratedImage;
import dev.ember.engine.GenerationCancelledException;
import dev.ember.engine.GenerationRequest;
import dev.ember.engine.ModelFileChangedException;
import dev.ember.engine.ModelFileException;
import dev.ember.engine.StepEvent;
import dev.ember.engine.StepListener;
import dev.ember.engine.image.RgbImage;
import dev.ember.engine.metadata.ImageParameters;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The server's one FIFO queue and what runs it. A single dispatcher thread takes jobs in order; each job's
 * images start as tasks, at most {@code maxBatch} at a time across all jobs, on generation threads that call
 * the engine with the loaded model's {@link dev.ember.engine.Batching}: every image of the same size that is
 * sampling at that moment shares each UNet call with the others. A job that needs another model (or clip skip)
 * waits until nothing samples, then the model is switched. Model switches asked through {@code /options} go
 * through the same queue.
 *
 * <p>The queue holds at most {@code capacity} waiting jobs; {@link #submit} refuses more (429). Each job's
 * {@link Job#done()} completes exactly once: done, interrupted, cancelled (dropped from the queue, or stopped at
 * its images' next step) or failed. A failure fails only the job it happened in.
 */
final class Scheduler implements AutoCloseable {
    /** A running image: its job, index and latest step. */
    static final class Task {
        final Job job;
        final int index;
        volatile boolean skipped;
        volatile StepEvent last;

        Task(Job job, int index) {
            this.job = job;
            this.index = index;
        }
    }

    /** A model switch waiting in the queue. */
    private record Switch(ModelHost.Key key, CompletableFuture<ModelHost.Loaded> loaded) {}

    /** Counts for {@code /health}. */
    record Counts(int waiting, int running, long done, long interrupted, long cancelled, long failed, long refused) {}

    /** What runs now, for {@code /progress}: the oldest running job and its lowest running image's latest step. */
    record Now(Job job, Task task, String loading, int waiting) {}

    private final ModelHost host;
    private final int capacity;
    private final int maxBatch;
    private final Semaphore slots;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final Deque<Object> queue = new ArrayDeque<>();
    private final Set<Job> running = new LinkedHashSet<>();
    private final Set<Task> tasks = new LinkedHashSet<>();
    private final ExecutorService workers;
    private final Thread dispatcher;
    private final AtomicInteger waitingJobs = new AtomicInteger();
    private long done, interrupted, cancelled, failed, refused;
    private double secondsPerJob = 0;
    private volatile String loading;
    private volatile boolean closed;
    /** For tests: sees every step first, on the generation thread (it may block to pace a run). */
    volatile java.util.function.Consumer<StepEvent> stepHook;

    Scheduler(ModelHost host, int capacity, int maxBatch) {
        this.host = host;
        this.capacity = capacity;
        this.maxBatch = maxBatch;
        this.slots = new Semaphore(maxBatch);
        AtomicInteger n = new AtomicInteger();
        this.workers = Executors.newFixedThreadPool(maxBatch, r -> {
            Thread t = new Thread(r, "ember-generate-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        this.dispatcher = new Thread(this::dispatch, "ember-dispatcher");
        this.dispatcher.setDaemon(true);
        this.dispatcher.start();
    }

    /**
     * Queues a job.
     *
     * @throws ApiException 429 when {@code capacity} jobs already wait (with the seconds to retry after), 503 once closed
     */
    void submit(Job job) {
        lock.lock();
        try {
            if (closed) throw new ApiException(503, null, "the server is shutting down");
            if (waitingJobs.get() >= capacity) {
                refused++;
                throw new QueueFullException(capacity, retryAfterSeconds());
            }
            queue.addLast(job);
            waitingJobs.incrementAndGet();
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** 429 with a Retry-After estimate. */
    static final class QueueFullException extends ApiException {
        private final long retryAfter;

        QueueFullException(int capacity, long retryAfter) {
            super(429, null, "the queue is full (" + capacity + " jobs waiting); retry in about " + retryAfter + " s");
            this.retryAfter = retryAfter;
        }

        long retryAfterSeconds() {
            return retryAfter;
        }
    }

    /** Seconds until a queue place is likely free: the average job's time, spread over the images running at once. */
    private long retryAfterSeconds() {
        double wait = secondsPerJob * Math.max(1, waitingJobs.get()) / maxBatch;
        return Math.max(1, Math.min(3600, (long) Math.ceil(wait)));
    }

    /** Queues a switch to {@code key}: it happens after the jobs queued before it, while nothing samples. */
    CompletableFuture<ModelHost.Loaded> switchModel(ModelHost.Key key) {
        CompletableFuture<ModelHost.Loaded> future = new CompletableFuture<>();
        lock.lock();
        try {
            if (closed) throw new ApiException(503, null, "the server is shutting down");
            queue.addLast(new Switch(key, future));
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        return future;
    }

    /** The client of {@code job} went away: drop it from the queue, or stop its images at their next step. */
    void cancel(Job job) {
        job.cancel();
        boolean dropped;
        lock.lock();
        try {
            dropped = queue.remove(job);
            if (dropped) {
                waitingJobs.decrementAndGet();
                cancelled++;
            }
        } finally {
            lock.unlock();
        }
        if (dropped) job.finish();
    }

    /** A1111's interrupt: every running job stops at its images' next step and starts no more images. */
    int interruptRunning() {
        lock.lock();
        try {
            for (Job j : running) j.interrupt();
            return running.size();
        } finally {
            lock.unlock();
        }
    }

    /** A1111's skip: the images sampling now stop at their next step; their jobs go on with their other images. */
    int skipRunning() {
        lock.lock();
        try {
            for (Task t : tasks) t.skipped = true;
            return tasks.size();
        } finally {
            lock.unlock();
        }
    }

    Counts counts() {
        lock.lock();
        try {
            return new Counts(waitingJobs.get(), running.size(), done, interrupted, cancelled, failed, refused);
        } finally {
            lock.unlock();
        }
    }

    Now now() {
        lock.lock();
        try {
            Job job = running.isEmpty() ? null : running.iterator().next();
            Task task = null;
            if (job != null) {
                task = tasks.stream().filter(t -> t.job == job && t.last != null).min(Comparator.comparingInt(t -> t.index)).orElse(null);
            }
            return new Now(job, task, loading, waitingJobs.get());
        } finally {
            lock.unlock();
        }
    }

    /** The running images of {@code job}. */
    List<Task> tasksOf(Job job) {
        lock.lock();
        try {
            return tasks.stream().filter(t -> t.job == job).toList();
        } finally {
            lock.unlock();
        }
    }

    private Object take() throws InterruptedException {
        lock.lock();
        try {
            while (queue.isEmpty()) changed.await();
            Object item = queue.removeFirst();
            if (item instanceof Job) waitingJobs.decrementAndGet();
            return item;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Takes the queue's head once an image may start (so a job waits in the queue, counted and cancellable, until
     * it can run), then switches the model or starts the job.
     */
    private void dispatch() {
        while (!closed) {
            try {
                slots.acquire();
                Object item;
                try {
                    item = take();
                } catch (InterruptedException e) {
                    slots.release();
                    throw e;
                }
                if (item instanceof Switch s) {
                    slots.release();
                    try {
                        s.loaded().complete(load(s.key()));
                    } catch (RuntimeException e) {
                        s.loaded().completeExceptionally(e);
                    }
                } else {
                    run((Job) item);
                }
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    /** Loads {@code key} once nothing samples. */
    private ModelHost.Loaded load(ModelHost.Key key) throws InterruptedException {
        ModelHost.Loaded now = host.current();
        if (now != null && now.key().equals(key)) return now;
        slots.acquire(maxBatch); // every running image has ended
        try {
            loading = key.checkpoint().title();
            return host.ensure(key);
        } finally {
            loading = null;
            slots.release(maxBatch);
        }
    }

    /** Starts the job's images; the caller holds one slot, for its first image. */
    private void run(Job job) throws InterruptedException {
        if (job.cancelled()) { // its client left between the queue and here
            slots.release();
            end(job);
            return;
        }
        ModelHost.Loaded model = host.current();
        if (model == null || !model.key().equals(job.model())) {
            slots.release();
            try {
                model = load(job.model());
            } catch (RuntimeException e) {
                job.fail(e);
                end(job);
                return;
            } catch (InterruptedException e) {
                job.fail(new ApiException(503, null, "the server is shutting down"));
                end(job);
                throw e;
            }
            slots.acquire();
        }
        lock.lock();
        try {
            running.add(job);
        } finally {
            lock.unlock();
        }
        job.started();
        boolean holding = true; // the slot for image 0
        try {
            for (int i = 0; i < job.imageCount() && !job.stopping(); i++) {
                if (!holding) slots.acquire();
                holding = false;
                if (job.stopping()) {
                    slots.release();
                    break;
                }
                Task task = new Task(job, i);
                lock.lock();
                try {
                    tasks.add(task);
                } finally {
                    lock.unlock();
                }
                job.taskStarted();
                ModelHost.Loaded loaded = model;
                workers.execute(() -> generate(task, loaded));
            }
            if (holding) slots.release();
        } finally {
            if (job.release()) end(job);
        }
    }

    /** One image, on a generation thread. */
    private void generate(Task task, ModelHost.Loaded model) {
        Job job = task.job;
        GenerationRequest request = job.requests().get(task.index);
        StepListener listener = event -> {
            task.last = event;
            var hook = stepHook;
            if (hook != null) hook.accept(event);
            return job.stopping() || task.skipped ? StepListener.Action.CANCEL : StepListener.Action.CONTINUE;
        };
        try {
            GeneratedImage made = model.model().generate(request, listener, job::warn, model.batching()).images().getFirst();
            job.put(new Job.Image(task.index, made.seed(), made.image(), record(job, request, model), -1));
        } catch (GenerationCancelledException e) {
            StepEvent last = task.last;
            boolean keep = !job.cancelled() && job.failure() == null && (job.interrupted() || task.skipped) && last != null;
            if (keep) {
                try {
                    // A1111 returns what was made so far: the current estimate of the clean image, decoded.
                    var latent = last.denoised() != null ? last.denoised() : last.latent();
                    RgbImage image = model.model().decodePreview(latent, last.latentHeight(), last.latentWidth());
                    job.put(new Job.Image(task.index, request.seed(), image, record(job, request, model), last.step()));
                } catch (RuntimeException | OutOfMemoryError decode) {
                    job.fail(new ApiException(500, null, "decoding the interrupted image failed: " + decode.getMessage()));
                }
            } else if (!job.cancelled() && job.failure() == null && !job.interrupted() && !task.skipped) {
                job.fail(new ApiException(500, null, "generation stopped: " + e.getMessage()));
            }
        } catch (ApiException e) {
            job.fail(e);
        } catch (ModelFileChangedException e) {
            job.fail(new ApiException(500, null, "generation failed: " + e.getMessage()));
        } catch (ModelFileException | IllegalArgumentException e) {
            // What the request names is at fault: a LoRA or embedding that is missing, unreadable or made for
            // another model, or a malformed <lora:...> tag.
            job.fail(ApiException.invalid(null, e.getMessage()));
        } catch (RuntimeException | OutOfMemoryError e) {
            job.fail(new ApiException(500, null, "generation failed: " + e.getMessage()));
        } finally {
            lock.lock();
            try {
                tasks.remove(task);
            } finally {
                lock.unlock();
            }
            slots.release();
            if (job.release()) end(job);
        }
    }

    /** The metadata record of one image, made while its model is loaded. */
    private static ImageParameters record(Job job, GenerationRequest request, ModelHost.Loaded model) {
        return ImageParameters.of(request, model.model(), null, job.initSha256());
    }

    private void end(Job job) {
        lock.lock();
        try {
            running.remove(job);
            if (job.cancelled()) cancelled++;
            else if (job.failure() != null) failed++;
            else if (job.interrupted()) interrupted++;
            else done++;
            if (job.startedNanos() != 0 && !job.cancelled() && job.failure() == null) {
                double seconds = (System.nanoTime() - job.startedNanos()) / 1e9;
                secondsPerJob = secondsPerJob == 0 ? seconds : 0.8 * secondsPerJob + 0.2 * seconds;
            }
        } finally {
            lock.unlock();
        }
        job.finish();
    }

    /** Stops taking work: waiting jobs end as cancelled (503), running ones stop at their next step. */
    @Override
    public void close() {
        List<Object> dropped;
        lock.lock();
        try {
            if (closed) return;
            closed = true;
            dropped = new ArrayList<>(queue);
            queue.clear();
            waitingJobs.set(0);
            for (Job j : running) {
                j.fail(new ApiException(503, null, "the server is shutting down"));
                j.cancel();
            }
        } finally {
            lock.unlock();
        }
        for (Object o : dropped) {
            if (o instanceof Job j) {
                j.fail(new ApiException(503, null, "the server is shutting down"));
                j.cancel();
                j.finish();
            } else if (o instanceof Switch s) {
                s.loaded().completeExceptionally(new ApiException(503, null, "the server is shutting down"));
            }
        }
        dispatcher.interrupt();
        workers.shutdown();
        try {
            if (!workers.awaitTermination(60, TimeUnit.SECONDS)) workers.shutdownNow();
            dispatcher.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
