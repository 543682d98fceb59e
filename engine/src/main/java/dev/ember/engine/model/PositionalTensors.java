package dev.ember.engine.model;

import dev.ember.engine.ModelFileChangedException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentMap;
import java.util.zip.CRC32C;

/**
 * The tensors of one network, read again from the model file for each use instead of from a mapping:
 * positional reads into memory of their own, each tensor checked against the CRC-32C of its first read.
 * A file that was truncated or rewritten meanwhile gives a {@link ModelFileChangedException}, never a
 * fault (reading a truncated mapping kills the JVM with SIGBUS) and never different weights. The reads
 * go through the channels of a {@link ModelFileWatch} opened when the model was loaded, so a file
 * renamed over the model's name changes nothing.
 */
public final class PositionalTensors {
    private static final int CHUNK = 1 << 30;

    private record Entry(TensorData tensor, MappedFiles.Region region, FileChannel channel) {}

    private final List<Entry> entries;
    private final ModelFileWatch files;
    private final ConcurrentMap<String, Long> checksums;

    private PositionalTensors(List<Entry> entries, ModelFileWatch files, ConcurrentMap<String, Long> checksums) {
        this.entries = entries;
        this.files = files;
        this.checksums = checksums;
    }

    /**
     * The tensors of {@code source} named by {@code specs} (those it has), located in their files; null
     * when one is not a slice of a file mapping that {@code files} watches (then they cannot be read again).
     *
     * @param checksums shared by every reader of one model: CRC-32C by tensor name, filled by first reads
     */
    public static PositionalTensors locate(StateDict source, List<TensorSpec> specs, ModelFileWatch files,
                                           ConcurrentMap<String, Long> checksums) {
        List<Entry> entries = new ArrayList<>();
        for (TensorSpec spec : specs) {
            TensorData t = source.tensors().get(spec.name());
            if (t == null) continue;
            MappedFiles.Region region = MappedFiles.locate(t.data()).orElse(null);
            FileChannel channel = region == null ? null : files.channel(region.file());
            if (channel == null) return null;
            entries.add(new Entry(t, region, channel));
        }
        return new PositionalTensors(entries, files, checksums);
    }

    /**
     * Reads the tensors into a new arena that the returned dict owns (close it when the network has copied them).
     *
     * @throws ModelFileChangedException when a tensor's bytes are missing or differ from its first read
     */
    public StateDict read() {
        Arena arena = Arena.ofShared();
        try {
            Map<String, TensorData> out = new LinkedHashMap<>();
            for (Entry e : entries) {
                MemorySegment data = arena.allocate(e.region().length(), 64);
                long crc = readFully(e, data);
                Long first = checksums.putIfAbsent(e.tensor().name(), crc);
                if (first != null && first != crc) throw changed(e, "its bytes differ from when the model was loaded");
                out.put(e.tensor().name(), new TensorData(e.tensor().name(), e.tensor().dtype(), e.tensor().shape(), data));
            }
            return new StateDict(out, arena);
        } catch (RuntimeException | Error ex) {
            arena.close();
            throw ex;
        }
    }

    private long readFully(Entry e, MemorySegment data) {
        CRC32C crc = new CRC32C();
        long done = 0, length = data.byteSize();
        try {
            while (done < length) {
                ByteBuffer chunk = data.asSlice(done, Math.min(CHUNK, length - done)).asByteBuffer();
                while (chunk.hasRemaining()) {
                    int n = e.channel().read(chunk, e.region().offset() + done + chunk.position());
                    if (n < 0) throw changed(e, "the file ends before its data (truncated)");
                }
                crc.update(chunk.flip());
                done += chunk.limit();
            }
        } catch (IOException ex) {
            throw changed(e, "cannot be read (" + ex.getMessage() + ")");
        }
        return crc.getValue();
    }

    private ModelFileChangedException changed(Entry e, String what) {
        String change = "tensor " + e.tensor().name() + " (" + e.region().file().getFileName() + " at byte " + e.region().offset() + "): " + what;
        return new ModelFileChangedException(files.model(), change, "the model file changed since it was loaded: " + change + "; load the model again");
    }
}
