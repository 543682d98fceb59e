package dev.ember.engine.lora;

import dev.ember.engine.Lora;
import dev.ember.engine.ModelFileException;
import dev.ember.engine.model.DType;
import dev.ember.engine.model.StateDict;
import dev.ember.engine.model.TensorData;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * The LoRAs a model's networks carry now, and the switch to another set between generations.
 *
 * <p>A generation takes a {@link #use lease} on the set it wants for its whole run. Generations that want the
 * set in place run together; one that wants another set waits until they are done, then the weights are
 * switched: the new set's merged weights ({@link LoraMerger}) go into the UNet and text encoder through
 * {@code set_weights}, and weights the old set adapted but the new one does not get their originals back.
 * Merged states are kept per set (least recently used first out, within a memory budget besides the set in
 * place: {@link #defaultCacheBytes()}, an eighth of the machine's memory), so going back to a recent set costs
 * only the hand-over, not the merge. With weights in place
 * on the CPU and f16 storage the hand-over is a pointer change per weight; otherwise each weight is converted
 * into the network's memory again (and quantised, for q8_0 / q4_0).
 */
public final class LoraState implements AutoCloseable {
    /** The least memory for merged sets not in place (the one in place is always kept). */
    public static final long MIN_CACHE_BYTES = 1L << 30;
    /** Sets kept at most besides the one in place. */
    public static final int CACHE_SETS = 4;

    /** Where merged weights go: the resident networks' {@code setWeights}; a per-use network reads {@link #overlay}. */
    public interface Sink {
        void unet(List<TensorData> tensors);

        /** The text encoders' tensors (SDXL: both encoders', told apart by their canonical root). */
        void text(List<TensorData> tensors);

        /** The text encoder's weights changed: cached prompt encodings are stale. */
        void textChanged();
    }

    /** Timings of the last switch, for reports and benchmarks. */
    public record Switch(int weights, long bytes, boolean merged, double mergeSeconds, double applySeconds) {}

    /** One file of a set: where, which version (size and time), and its weight. */
    private record Entry(String path, long size, long modified, double weight) {}

    private record Cached(LoraMerger.Merged merged, List<String> warnings) {}

    private final LoraTargets targets;
    private final Function<Set<String>, StateDict> base;
    private final DType mergeType;
    private final Sink sink;
    private final long cacheBytes;
    private final LinkedHashMap<List<Entry>, Cached> cache = new LinkedHashMap<>(16, 0.75f, true);
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition idle = lock.newCondition();
    private List<Entry> current = List.of();
    private Cached inPlace;
    private int users;
    private boolean closed;
    private Switch lastSwitch;

    /**
     * @param base      the model's original values of the named weights (canonical names), in a dict the caller closes;
     *                  asked for only when a set is merged or undone
     * @param mergeType F16 when the networks store their matrices in f16 (the merged values are rounded once, as
     *                  a checkpoint's would be), else F32
     */
    public LoraState(LoraTargets targets, Function<Set<String>, StateDict> base, DType mergeType, Sink sink) {
        this(targets, base, mergeType, sink, defaultCacheBytes());
    }

    /** @param cacheBytes memory for merged sets besides the one in place (0: none kept) */
    public LoraState(LoraTargets targets, Function<Set<String>, StateDict> base, DType mergeType, Sink sink, long cacheBytes) {
        if (cacheBytes < 0) throw new IllegalArgumentException("cache bytes " + cacheBytes);
        this.targets = targets;
        this.base = base;
        this.mergeType = mergeType;
        this.sink = sink;
        this.cacheBytes = cacheBytes;
    }

    /**
     * The default budget for merged sets not in place: an eighth of the machine's (or container's) memory, at
     * least {@link #MIN_CACHE_BYTES}. A rank-32 LoRA of every SD 1.5 layer merges to 1.6 GiB in f16, so a fixed
     * 1 GiB made going back to such a set a full merge again (tens of seconds); an eighth keeps one or two such
     * sets on a 16-32 GiB machine without crowding a small one.
     */
    public static long defaultCacheBytes() {
        return Math.max(MIN_CACHE_BYTES, totalMemory() / 8);
    }

    /**
     * The memory this process may use: the machine's, or the container's limit where there is one (the JVM's
     * container-aware figure, not /proc/meminfo's host total); 0 where the JVM cannot tell.
     */
    private static long totalMemory() {
        try {
            if (java.lang.management.ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
                return Math.max(0, os.getTotalMemorySize());
            }
        } catch (RuntimeException | LinkageError e) {
            // no management beans: the minimum
        }
        return 0;
    }

    /** A generation's hold on the set it asked for; closing it lets other sets in. */
    public interface Lease extends AutoCloseable {
        @Override
        void close();
    }

    /**
     * Waits until the networks can carry {@code loras} (no generation with another set running), switches them if
     * needed, and returns the hold. Warnings about the set (ignored keys) go to {@code warnings} on every use.
     *
     * @throws ModelFileException for an unreadable LoRA or one that does not fit this model (nothing is switched)
     */
    public Lease use(List<Lora> loras, Consumer<String> warnings) {
        List<Entry> key = key(loras);
        lock.lock();
        try {
            while (!closed && users > 0 && !current.equals(key)) idle.awaitUninterruptibly();
            if (closed) throw new IllegalStateException("model is closed");
            if (!current.equals(key)) switchTo(key, loras);
            if (inPlace != null) inPlace.warnings().forEach(warnings);
            users++;
        } finally {
            lock.unlock();
        }
        return new Lease() {
            private boolean released;

            @Override
            public void close() {
                lock.lock();
                try {
                    if (released) return;
                    released = true;
                    if (--users == 0) idle.signalAll();
                } finally {
                    lock.unlock();
                }
            }
        };
    }

    /** The set in place, as files and weights (empty: the model's own weights). */
    public List<String> current() {
        lock.lock();
        try {
            return current.stream().map(e -> e.path() + ":" + e.weight()).toList();
        } finally {
            lock.unlock();
        }
    }

    /** What the last switch cost, or null before the first. */
    public Switch lastSwitch() {
        lock.lock();
        try {
            return lastSwitch;
        } finally {
            lock.unlock();
        }
    }

    /**
     * {@code weights} with the text encoders' merged tensors of the set in place over it: what a text encoder
     * loaded for one use (low-memory mode) must be made from. Valid while the current lease is held.
     */
    public StateDict overlay(StateDict weights) {
        lock.lock();
        try {
            if (inPlace == null) return weights;
            Map<String, TensorData> all = new LinkedHashMap<>(weights.tensors());
            for (TensorData t : inPlace.merged().tensors()) if (LoraTargets.isText(t.name())) all.put(t.name(), t);
            return new StateDict(all, java.lang.foreign.Arena.global());
        } finally {
            lock.unlock();
        }
    }

    private void switchTo(List<Entry> key, List<Lora> loras) {
        long t0 = System.nanoTime();
        boolean merged = false;
        Cached next = key.isEmpty() ? null : cache.get(key);
        if (!key.isEmpty() && next == null) {
            next = merge(key, loras);
            merged = true;
        }
        long t1 = System.nanoTime();
        Set<String> adapted = new HashSet<>();
        List<TensorData> unet = new ArrayList<>(), text = new ArrayList<>();
        if (next != null) {
            for (TensorData t : next.merged().tensors()) {
                adapted.add(t.name());
                (LoraTargets.isText(t.name()) ? text : unet).add(t);
            }
        }
        Set<String> undone = new java.util.LinkedHashSet<>();
        if (inPlace != null) for (TensorData t : inPlace.merged().tensors()) if (!adapted.contains(t.name())) undone.add(t.name());
        StateDict originals = undone.isEmpty() ? null : base.apply(undone);
        try {
            if (originals != null) {
                for (TensorData o : originals.tensors().values()) (LoraTargets.isText(o.name()) ? text : unet).add(o);
            }
            sink.unet(unet);
            sink.text(text);
        } finally {
            if (originals != null) originals.close();
        }
        if (!text.isEmpty()) sink.textChanged();
        current = key;
        inPlace = next;
        if (next != null) cache.put(key, next);
        evict();
        long bytes = next == null ? 0 : next.merged().bytes();
        lastSwitch = new Switch(unet.size() + text.size(), bytes, merged, (t1 - t0) / 1e9, (System.nanoTime() - t1) / 1e9);
    }

    private Cached merge(List<Entry> key, List<Lora> loras) {
        // One file per path, its weights summed (applying a LoRA twice is applying it with both weights).
        Map<String, Double> weights = new TreeMap<>();
        Map<String, Path> paths = new TreeMap<>();
        for (Lora l : loras) {
            String p = canonical(l.file());
            weights.merge(p, l.weight(), Double::sum);
            paths.putIfAbsent(p, l.file());
        }
        List<LoraFile> files = new ArrayList<>();
        try {
            List<LoraTargets.Weighted> weighted = new ArrayList<>();
            for (var e : paths.entrySet()) {
                LoraFile f = LoraFile.open(e.getValue());
                files.add(f);
                weighted.add(new LoraTargets.Weighted(f, weights.get(e.getKey())));
            }
            LoraTargets.Plan plan = targets.plan(weighted);
            try (StateDict originals = base.apply(plan.updates().keySet())) {
                return new Cached(LoraMerger.merge(plan, originals, mergeType), plan.warnings());
            }
        } finally {
            files.forEach(LoraFile::close);
        }
    }

    private void evict() {
        long bytes = 0;
        int sets = 0;
        // Newest first: keep while within the budget; the set in place never counts and never goes.
        List<Map.Entry<List<Entry>, Cached>> newestFirst = new ArrayList<>(cache.entrySet());
        java.util.Collections.reverse(newestFirst);
        Set<List<Entry>> keep = new HashSet<>();
        for (var e : newestFirst) {
            if (e.getKey().equals(current)) {
                keep.add(e.getKey());
                continue;
            }
            long b = e.getValue().merged().bytes();
            if (sets < CACHE_SETS && bytes + b <= cacheBytes) {
                keep.add(e.getKey());
                bytes += b;
                sets++;
            }
        }
        for (Iterator<Map.Entry<List<Entry>, Cached>> it = cache.entrySet().iterator(); it.hasNext(); ) {
            var e = it.next();
            if (!keep.contains(e.getKey())) {
                e.getValue().merged().close();
                it.remove();
            }
        }
    }

    /** The set's identity: each file (canonical path, size, modification time) once, with its summed weight, sorted; zero weights dropped. */
    private static List<Entry> key(List<Lora> loras) {
        Map<String, Double> weights = new TreeMap<>();
        Map<String, Path> files = new TreeMap<>();
        for (Lora l : loras) {
            String p = canonical(l.file());
            weights.merge(p, l.weight(), Double::sum);
            files.putIfAbsent(p, l.file());
        }
        List<Entry> out = new ArrayList<>();
        for (var e : weights.entrySet()) {
            if (e.getValue() == 0) continue;
            Path f = files.get(e.getKey());
            try {
                out.add(new Entry(e.getKey(), Files.size(f), Files.getLastModifiedTime(f).toMillis(), e.getValue()));
            } catch (IOException ex) {
                throw new ModelFileException(f, "cannot read the LoRA: " + ex.getMessage(), ex);
            }
        }
        out.sort(Comparator.comparing(Entry::path));
        return List.copyOf(out);
    }

    private static String canonical(Path p) {
        try {
            return p.toRealPath().toString();
        } catch (IOException e) {
            if (!Files.exists(p)) throw new ModelFileException(p, "LoRA file not found");
            throw new UncheckedIOException(e);
        }
    }

    /** Frees every merged set. The networks must be closed first (they may point at the set in place). */
    @Override
    public void close() {
        lock.lock();
        try {
            if (closed) return;
            closed = true;
            idle.signalAll();
            for (Cached c : cache.values()) c.merged().close();
            cache.clear();
            inPlace = null;
        } finally {
            lock.unlock();
        }
    }
}
