package dev.ember.engine.model;

import dev.ember.engine.ModelFileException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * The central directory of a zip file that is already memory-mapped, read by hand because
 * {@link java.util.zip.ZipFile} does not tell where an entry's bytes start, and STORED entries (how
 * PyTorch saves storages) are to be used in place, not copied. Every offset is checked against the
 * mapping before use; ZIP64 (checkpoints over 4 GB) is understood.
 */
final class ZipIndex {
    static final int STORED = 0, DEFLATED = 8;
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** One entry: where its local header is, how it is compressed and its sizes. */
    record Entry(String name, int method, long compressedSize, long size, long localHeaderOffset) {}

    private final Path file;
    private final MemorySegment all;
    private final Map<String, Entry> entries = new LinkedHashMap<>();

    private ZipIndex(Path file, MemorySegment all) {
        this.file = file;
        this.all = all;
    }

    static ZipIndex read(Path file, MemorySegment all) {
        ZipIndex z = new ZipIndex(file, all);
        z.parse();
        return z;
    }

    Map<String, Entry> entries() {
        return entries;
    }

    private void parse() {
        long size = all.byteSize();
        long eocd = -1;
        for (long p = size - 22; p >= Math.max(0, size - 22 - 0xffff); p--) {
            if (u32(p) == 0x06054b50) {
                eocd = p;
                break;
            }
        }
        if (eocd < 0) throw bad("no zip end-of-central-directory record (truncated?)");
        long count = u16(eocd + 10), cdSize = u32(eocd + 12), cdOffset = u32(eocd + 16);
        if (count == 0xffff || cdSize == 0xffffffffL || cdOffset == 0xffffffffL) {
            long locator = eocd - 20;
            if (locator < 0 || u32(locator) != 0x07064b50) throw bad("ZIP64 locator missing");
            long z64 = i64(locator + 8);
            if (z64 < 0 || z64 > size - 56 || u32(z64) != 0x06064b50) throw bad("ZIP64 end record outside the file");
            count = i64(z64 + 32);
            cdSize = i64(z64 + 40);
            cdOffset = i64(z64 + 48);
        }
        if (cdOffset < 0 || cdSize < 0 || cdOffset + cdSize > size) throw bad("central directory outside the file");
        long p = cdOffset;
        for (long i = 0; i < count; i++) {
            if (u32(p) != 0x02014b50) throw bad("corrupt central directory entry " + i);
            int method = u16(p + 10);
            long csize = u32(p + 20), usize = u32(p + 24);
            int nameLen = u16(p + 28), extraLen = u16(p + 30), commentLen = u16(p + 32);
            long local = u32(p + 42);
            String name = new String(bytes(p + 46, nameLen), StandardCharsets.UTF_8);
            long extra = p + 46 + nameLen, extraEnd = extra + extraLen;
            while (extra + 4 <= extraEnd) {
                int id = u16(extra), len = u16(extra + 2);
                if (id == 0x0001) { // ZIP64: the fields that overflowed, in this order
                    long q = extra + 4;
                    if (usize == 0xffffffffL) { usize = i64(q); q += 8; }
                    if (csize == 0xffffffffL) { csize = i64(q); q += 8; }
                    if (local == 0xffffffffL) local = i64(q);
                }
                extra += 4 + len;
            }
            if (csize < 0 || usize < 0 || local < 0 || local >= size) throw bad("entry " + name + " has sizes or offset outside the file");
            entries.put(name, new Entry(name, method, csize, usize, local));
            p = extraEnd + commentLen;
        }
    }

    /**
     * The bytes of an entry: a slice of the mapping when STORED (no copy), otherwise inflated into
     * {@code arena}.
     */
    MemorySegment data(Entry e, Arena arena) {
        long h = e.localHeaderOffset();
        if (u32(h) != 0x04034b50) throw bad("entry " + e.name() + ": no local header at its offset");
        long start = h + 30 + u16(h + 26) + u16(h + 28);
        if (start + e.compressedSize() > all.byteSize() || start + e.compressedSize() < start) {
            throw bad("entry " + e.name() + " runs past the end of the file (truncated?)");
        }
        MemorySegment raw = all.asSlice(start, e.compressedSize());
        if (e.method() == STORED) {
            if (e.size() != e.compressedSize()) throw bad("entry " + e.name() + ": stored sizes differ");
            return raw;
        }
        if (e.method() != DEFLATED) throw bad("entry " + e.name() + " uses compression method " + e.method());
        MemorySegment out = arena.allocate(Math.max(1, e.size()), 16).asSlice(0, e.size());
        Inflater inf = new Inflater(true);
        try {
            inf.setInput(raw.asByteBuffer());
            java.nio.ByteBuffer dst = out.asByteBuffer();
            while (dst.hasRemaining() && !inf.finished()) {
                if (inf.inflate(dst) == 0 && (inf.needsInput() || inf.needsDictionary())) break;
            }
            if (dst.hasRemaining()) throw bad("entry " + e.name() + " inflates to fewer bytes than its size");
        } catch (DataFormatException ex) {
            throw bad("entry " + e.name() + " is corrupt: " + ex.getMessage());
        } finally {
            inf.end();
        }
        return out;
    }

    private ModelFileException bad(String what) {
        return new ModelFileException(file, "bad zip: " + what);
    }

    private void check(long p, long n) {
        if (p < 0 || p + n > all.byteSize()) throw bad("a record at " + p + " lies outside the file (truncated?)");
    }

    private long u32(long p) {
        check(p, 4);
        return Integer.toUnsignedLong(all.get(U32, p));
    }

    private int u16(long p) {
        check(p, 2);
        return Short.toUnsignedInt(all.get(U16, p));
    }

    private long i64(long p) {
        check(p, 8);
        return all.get(U64, p);
    }

    private byte[] bytes(long p, int n) {
        check(p, n);
        return all.asSlice(p, n).toArray(ValueLayout.JAVA_BYTE);
    }
}
