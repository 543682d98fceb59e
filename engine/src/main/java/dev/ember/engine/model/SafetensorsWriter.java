package dev.ember.engine.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Writes a {@code .safetensors} file tensor by tensor, so memory use is one tensor whatever the file's
 * size. The header is padded with spaces (as the format allows) so the data area starts 64-byte
 * aligned; tensors follow each other without gaps because the reference implementation rejects files
 * whose data has holes. Output is deterministic: metadata sorted by key, tensors in the given order.
 */
public final class SafetensorsWriter {
    static final int ALIGNMENT = 64;
    private static final ObjectMapper JSON = new ObjectMapper();

    private SafetensorsWriter() {}

    /** Writes {@code tensors} with {@code metadata} to {@code file} (through a temporary file, moved into place). */
    public static void write(Path file, Map<String, String> metadata, List<TensorSource> tensors) {
        ObjectNode header = JSON.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode meta = header.putObject("__metadata__");
            new TreeMap<>(metadata).forEach(meta::put);
        }
        long offset = 0;
        var names = new HashSet<String>();
        for (TensorSource t : tensors) {
            if (!names.add(t.name())) throw new IllegalArgumentException("duplicate tensor " + t.name());
            if (t.name().equals("__metadata__")) throw new IllegalArgumentException("a tensor cannot be named __metadata__");
            ObjectNode n = header.putObject(t.name());
            n.put("dtype", t.dtype().safetensorsName());
            var shape = n.putArray("shape");
            for (long d : t.shape()) shape.add(d);
            var offsets = n.putArray("data_offsets");
            offsets.add(offset);
            offset += t.byteSize();
            offsets.add(offset);
        }
        byte[] json;
        try {
            json = JSON.writeValueAsBytes(header);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        int padded = (int) (((8L + json.length + ALIGNMENT - 1) / ALIGNMENT) * ALIGNMENT - 8);
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(json);
        while (head.hasRemaining()) head.put((byte) ' ');
        head.flip();

        ReplacedFile.write(file, tmp -> {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
                writeFully(ch, head);
                for (TensorSource t : tensors) writeTensor(ch, t);
            }
        });
    }

    /** Fills the tensor into a buffer of its own and writes it; the buffer is freed before the next tensor. */
    static void writeTensor(FileChannel ch, TensorSource t) throws IOException {
        if (t.byteSize() == 0) return;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(t.byteSize(), 16);
            t.filler().accept(buf);
            writeFully(ch, buf.asByteBuffer());
        }
    }

    static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) ch.write(b);
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
