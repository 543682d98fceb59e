package dev.ember.engine.model;

import java.io.ByteArrayOutputStream;
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
 * Writes a gguf file (version 3, {@code ggml/include/gguf.h}) tensor by tensor: string key-values, one
 * info per tensor (dimensions innermost first, ggml type, offset), then the data, every tensor starting
 * at a multiple of 32 bytes (the default alignment). Tensors keep their names, as stable-diffusion.cpp's
 * converter does; SD's longest names exceed ggml's default 63 characters, which stable-diffusion.cpp
 * lifts by building ggml with {@code GGML_MAX_NAME=128}. Any {@link DType} ggml has may be written, the
 * block types included (the source then fills in ggml's blocks over its flattened elements). ggml wants
 * every row to hold whole blocks; a tensor whose last dimension does not is written as rows of one
 * block with its real shape in {@code comfy.gguf.orig_shape.<name>}, as city96's converter does (and
 * {@link GgufReader} restores it). Output is deterministic: keys sorted, tensors in the given order.
 */
public final class GgufWriter {
    static final int VERSION = 3;
    private static final int ALIGNMENT = GgufReader.DEFAULT_ALIGNMENT;
    private static final int TYPE_STRING = GgufReader.ValueType.STRING.ordinal();
    private static final int TYPE_ARRAY = GgufReader.ValueType.ARRAY.ordinal();
    private static final int TYPE_INT32 = GgufReader.ValueType.INT32.ordinal();

    private GgufWriter() {}

    /** Writes {@code tensors} with string {@code metadata} to {@code file} (through a temporary file, moved into place). */
    public static void write(Path file, Map<String, String> metadata, List<TensorSource> tensors) {
        // Block-typed tensors whose rows do not hold whole blocks: stored as rows of one block, real shape in the keys.
        Map<String, long[]> origShapes = new TreeMap<>();
        for (TensorSource t : tensors) {
            long[] shape = t.shape();
            if (shape.length >= 1 && shape[shape.length - 1] % t.dtype().blockSize() != 0) origShapes.put(t.name(), shape);
        }
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        ByteBuffer fixed = le(24).putInt(GgufReader.MAGIC).putInt(VERSION).putLong(tensors.size()).putLong(metadata.size() + origShapes.size());
        head.writeBytes(fixed.array());
        for (Map.Entry<String, String> kv : new TreeMap<>(metadata).entrySet()) {
            string(head, kv.getKey());
            head.writeBytes(le(4).putInt(TYPE_STRING).array());
            string(head, kv.getValue());
        }
        for (Map.Entry<String, long[]> kv : origShapes.entrySet()) {
            string(head, GgufReader.ORIG_SHAPE_PREFIX + kv.getKey());
            ByteBuffer array = le(4 + 4 + 8 + 4 * kv.getValue().length).putInt(TYPE_ARRAY).putInt(TYPE_INT32).putLong(kv.getValue().length);
            for (long d : kv.getValue()) array.putInt(Math.toIntExact(d));
            head.writeBytes(array.array());
        }
        long offset = 0;
        var names = new HashSet<String>();
        for (TensorSource t : tensors) {
            if (!names.add(t.name())) throw new IllegalArgumentException("duplicate tensor " + t.name());
            long[] shape = t.shape();
            if (shape.length < 1 || shape.length > 4) throw new IllegalArgumentException(t.name() + ": gguf holds 1 to 4 dimensions");
            if (t.dtype().ggmlType() < 0) throw new IllegalArgumentException(t.name() + ": ggml has no " + t.dtype() + " type");
            if (origShapes.containsKey(t.name())) {
                long blocks = TensorData.elementCount(shape) / t.dtype().blockSize(); // TensorSource checked it is whole blocks
                shape = new long[] {blocks, t.dtype().blockSize()};
            }
            string(head, t.name());
            ByteBuffer info = le(4 + 8 * shape.length + 4 + 8).putInt(shape.length);
            for (int d = shape.length - 1; d >= 0; d--) info.putLong(shape[d]); // innermost first
            info.putInt(t.dtype().ggmlType()).putLong(offset);
            head.writeBytes(info.array());
            offset = padded(offset + t.byteSize());
        }
        head.writeBytes(new byte[(int) (padded(head.size()) - head.size())]);

        ReplacedFile.write(file, tmp -> {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
                SafetensorsWriter.writeFully(ch, ByteBuffer.wrap(head.toByteArray()));
                for (TensorSource t : tensors) {
                    SafetensorsWriter.writeTensor(ch, t);
                    long pad = padded(t.byteSize()) - t.byteSize();
                    if (pad > 0) SafetensorsWriter.writeFully(ch, ByteBuffer.allocate((int) pad));
                }
            }
        });
    }

    private static long padded(long n) {
        return (n + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
    }

    private static ByteBuffer le(int bytes) {
        return ByteBuffer.allocate(bytes).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static void string(ByteArrayOutputStream out, String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        out.writeBytes(le(8).putLong(b.length).array());
        out.writeBytes(b);
    }
}
