package dev.ember.engine.model;

import java.io.BufferedOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * Writes a PyTorch zip checkpoint that {@code torch.load} reads: {@code archive/data.pkl} holding
 * {@code {"state_dict": OrderedDict(name -> tensor)}} (the single-file SD layout), one STORED entry
 * {@code archive/data/N} per tensor, 64-byte aligned as torch aligns them, plus {@code byteorder} and
 * {@code version}. Tensors are filled one at a time, so memory use is one tensor. Entry times are
 * fixed, so the same tensors give the same bytes.
 */
public final class TorchCheckpointWriter {
    static final String FOLDER = "archive/";
    /** Top-level key of Ember's string metadata (the ember.* keys), beside "state_dict". */
    public static final String METADATA_KEY = "ember_metadata";
    // Not 1980-01-01: that is the "before 1980" marker and makes ZipEntry add a time-zone-dependent extra field.
    private static final LocalDateTime FIXED_TIME = LocalDateTime.of(2000, 1, 1, 0, 0);
    private static final int ALIGNMENT = 64;
    private static final Map<DType, String> STORAGE = Map.of(DType.F32, "FloatStorage", DType.F16, "HalfStorage",
            DType.BF16, "BFloat16Storage", DType.F64, "DoubleStorage", DType.I64, "LongStorage", DType.I32, "IntStorage");

    private TorchCheckpointWriter() {}

    /** Writes {@code tensors}; non-empty {@code metadata} goes into a top-level {@value #METADATA_KEY} dict of strings. */
    public static void write(Path file, Map<String, String> metadata, List<TensorSource> tensors) {
        write(file, tensors, pickle(metadata, tensors));
    }

    /**
     * Writes a pickled tree of plain dicts: values are {@link TensorSource}s, strings, integers or nested maps (how
     * A1111's textual-inversion {@code .pt} files hold {@code string_to_param}). Keys keep the map's order.
     */
    public static void writeTree(Path file, Map<String, ?> root) {
        List<TensorSource> tensors = new java.util.ArrayList<>();
        PickleWriter p = new PickleWriter().proto();
        dict(p, root, tensors);
        write(file, tensors, p.stop().bytes());
    }

    private static void dict(PickleWriter p, Map<String, ?> d, List<TensorSource> tensors) {
        p.emptyDict();
        if (d.isEmpty()) return;
        p.mark();
        for (var e : d.entrySet()) {
            p.string(e.getKey());
            switch (e.getValue()) {
                case TensorSource t -> {
                    tensor(p, t, tensors.size());
                    tensors.add(t);
                }
                case String v -> p.string(v);
                case Integer v -> p.integer(v);
                case Long v -> p.integer(v);
                case Map<?, ?> m -> {
                    @SuppressWarnings("unchecked")
                    Map<String, ?> inner = (Map<String, ?>) m;
                    dict(p, inner, tensors);
                }
                default -> throw new IllegalArgumentException("cannot pickle " + e.getValue().getClass().getSimpleName() + " at " + e.getKey());
            }
        }
        p.setItems();
    }

    private static void write(Path file, List<TensorSource> tensors, byte[] pickle) {
        ReplacedFile.write(file, tmp -> {
            try (Counting counting = new Counting(new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 20));
                    ZipOutputStream zip = new ZipOutputStream(counting)) {
                stored(zip, counting, FOLDER + "data.pkl", pickle);
                stored(zip, counting, FOLDER + "byteorder", "little".getBytes(StandardCharsets.US_ASCII));
                for (int i = 0; i < tensors.size(); i++) {
                    TensorSource t = tensors.get(i);
                    try (Arena arena = Arena.ofConfined()) {
                        MemorySegment buf = arena.allocate(Math.max(1, t.byteSize()), 16).asSlice(0, t.byteSize());
                        t.filler().accept(buf);
                        CRC32 crc = new CRC32();
                        crc.update(buf.asByteBuffer());
                        ZipEntry e = entry(FOLDER + "data/" + i, t.byteSize(), crc.getValue(), counting.count);
                        zip.putNextEntry(e);
                        byte[] chunk = new byte[1 << 20];
                        for (long p = 0; p < t.byteSize(); p += chunk.length) {
                            int n = (int) Math.min(chunk.length, t.byteSize() - p);
                            MemorySegment.copy(buf, ValueLayout.JAVA_BYTE, p, chunk, 0, n);
                            zip.write(chunk, 0, n);
                        }
                        zip.closeEntry();
                    }
                }
                stored(zip, counting, FOLDER + "version", "3\n".getBytes(StandardCharsets.US_ASCII));
            }
        });
    }

    /** The state dict pickle: tensor i is a view of storage "i" (offset 0, contiguous strides). */
    static byte[] pickle(Map<String, String> metadata, List<TensorSource> tensors) {
        PickleWriter p = new PickleWriter().proto().emptyDict();
        if (!metadata.isEmpty()) {
            p.string(METADATA_KEY).emptyDict().mark();
            new java.util.TreeMap<>(metadata).forEach((k, v) -> p.string(k).string(v));
            p.setItems().setItem();
        }
        p.string("state_dict");
        p.global("collections", "OrderedDict").emptyTuple().reduce().mark();
        for (int i = 0; i < tensors.size(); i++) {
            p.string(tensors.get(i).name());
            tensor(p, tensors.get(i), i);
        }
        return p.setItems().setItem().stop().bytes();
    }

    /** Tensor {@code t} as a contiguous view of storage {@code index} (offset 0). */
    private static void tensor(PickleWriter p, TensorSource t, int index) {
        String storage = STORAGE.get(t.dtype());
        if (storage == null) throw new IllegalArgumentException("no torch storage type for " + t.dtype());
        long[] shape = t.shape();
        long[] stride = new long[shape.length];
        long s = 1;
        for (int d = shape.length - 1; d >= 0; d--) {
            stride[d] = s;
            s *= shape[d];
        }
        p.global("torch._utils", "_rebuild_tensor_v2").mark();
        p.mark().string("storage").global("torch", storage).string(Integer.toString(index)).string("cpu")
                .integer(TensorData.elementCount(shape)).tuple().persistentId();
        p.integer(0).longTuple(shape).longTuple(stride).bool(false);
        p.global("collections", "OrderedDict").emptyTuple().reduce();
        p.tuple().reduce();
    }

    private static void stored(ZipOutputStream zip, Counting counting, String name, byte[] data) throws IOException {
        CRC32 crc = new CRC32();
        crc.update(data);
        zip.putNextEntry(entry(name, data.length, crc.getValue(), counting.count));
        zip.write(data);
        zip.closeEntry();
    }

    /** A STORED entry whose data will start on a 64-byte boundary: padding goes into an extra field. */
    private static ZipEntry entry(String name, long size, long crc, long position) {
        ZipEntry e = new ZipEntry(name);
        e.setMethod(ZipEntry.STORED);
        e.setSize(size);
        e.setCompressedSize(size);
        e.setCrc(crc);
        e.setTimeLocal(FIXED_TIME);
        int header = 30 + name.getBytes(StandardCharsets.UTF_8).length + 4; // local header + the extra field's own header
        int pad = (int) ((ALIGNMENT - (position + header) % ALIGNMENT) % ALIGNMENT);
        byte[] extra = new byte[4 + pad];
        extra[0] = 'F'; // torch's padding field id, "FB"
        extra[1] = 'B';
        extra[2] = (byte) pad;
        extra[3] = (byte) (pad >>> 8);
        java.util.Arrays.fill(extra, 4, extra.length, (byte) 'Z');
        e.setExtra(extra);
        return e;
    }

    /** Counts the bytes the zip stream has written, to place each entry's data on the alignment. */
    private static final class Counting extends FilterOutputStream {
        long count;

        Counting(OutputStream out) {
            super(out);
        }

        @Override
        public void write(int b) throws IOException {
            out.write(b);
            count++;
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
            count += len;
        }
    }
}
