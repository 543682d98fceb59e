package dev.ember.engine.model;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentSkipListMap;

/**
 * Which file a slice of a file mapping comes from. Readers map model files through {@link #map}, which
 * remembers each live mapping by address; {@link #locate} turns a tensor's data back into the file
 * and offset it was mapped from, so that a model can read the same bytes again with positional reads
 * once its mapping is gone (see {@link PositionalTensors}). Mappings whose arena has closed are
 * forgotten.
 */
public final class MappedFiles {
    /** {@code length} bytes of {@code file} at {@code offset}. */
    public record Region(Path file, long offset, long length) {}

    private record Mapping(Path file, MemorySegment segment) {}

    private static final ConcurrentSkipListMap<Long, Mapping> LIVE = new ConcurrentSkipListMap<>();

    private MappedFiles() {}

    /** Maps all of {@code file} (open as {@code channel}) read-only into {@code arena}, and remembers where it lies. */
    static MemorySegment map(FileChannel channel, Path file, Arena arena) throws IOException {
        MemorySegment all = channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size(), arena);
        LIVE.values().removeIf(m -> !m.segment().scope().isAlive());
        LIVE.put(all.address(), new Mapping(file.toAbsolutePath().normalize(), all));
        return all;
    }

    /** The file region {@code slice} was mapped from, if it lies inside a live mapping made by {@link #map}. */
    public static Optional<Region> locate(MemorySegment slice) {
        if (!slice.isNative() || !slice.scope().isAlive()) return Optional.empty();
        Map.Entry<Long, Mapping> e = LIVE.floorEntry(slice.address());
        if (e == null) return Optional.empty();
        MemorySegment m = e.getValue().segment();
        if (!m.scope().isAlive()) return Optional.empty();
        long offset = slice.address() - m.address();
        if (offset + slice.byteSize() > m.byteSize()) return Optional.empty();
        return Optional.of(new Region(e.getValue().file(), offset, slice.byteSize()));
    }
}
