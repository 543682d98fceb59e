package dev.ember.engine.model;

import dev.ember.engine.ModelFileException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads a gguf file (ggml's format, versions 2 and 3; {@code ggml/include/gguf.h}): the magic
 * {@code GGUF}, a version, tensor and key-value counts, the key-value pairs, one info per tensor (name,
 * dimensions innermost first, ggml type, offset into the data area), then the data area, aligned to
 * {@code general.alignment} (default 32). The file is mapped once; every tensor is a slice of it, f32,
 * f16, bf16 or one of ggml's block types ({@link DType#isBlock()}) as stored. Everything is checked
 * against the file before a slice is made, so a corrupt file gives a {@link ModelFileException}.
 *
 * <p>Layouts it understands:
 * <ul>
 *   <li>stable-diffusion.cpp's ({@code sd convert}): the checkpoint's own tensor names (LDM names for
 *       the UNet and VAE, Hugging Face CLIP names for the text encoders).</li>
 *   <li>city96's ComfyUI-GGUF UNet files: the UNet alone, its {@code model.diffusion_model.} prefix
 *       stripped (put back here), and tensors that were flattened to rows of 256 so that K-quants fit,
 *       with their real shape in {@code comfy.gguf.orig_shape.<name>} (restored here: the flattened
 *       order is the tensor's own, so only the shape changes).</li>
 * </ul>
 * String and numeric keys become the metadata map (so Ember's own {@code ember.*} keys work as in
 * safetensors); arrays are skipped, except the original shapes above.
 */
public final class GgufReader {
    static final int MAGIC = 0x46554747; // "GGUF" read little-endian
    static final int DEFAULT_ALIGNMENT = 32;
    static final String ORIG_SHAPE_PREFIX = "comfy.gguf.orig_shape.";
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** gguf's value types. */
    enum ValueType {
        UINT8(1), INT8(1), UINT16(2), INT16(2), UINT32(4), INT32(4), FLOAT32(4), BOOL(1), STRING(-1), ARRAY(-1), UINT64(8), INT64(8), FLOAT64(8);

        final int size;

        ValueType(int size) {
            this.size = size;
        }

        static ValueType of(int code) {
            return code >= 0 && code < values().length ? values()[code] : null;
        }
    }

    private GgufReader() {}

    /** Maps {@code file} and returns its tensors under their stored names; the StateDict owns the mapping. */
    public static RawCheckpoint open(Path file) {
        return RawCheckpoint.mapped(ModelFormat.GGUF, file, GgufReader::read);
    }

    /** Maps {@code file} into {@code arena} (which the caller owns); fills {@code metadata} from its string and number keys. */
    static Map<String, TensorData> read(Path file, Arena arena, Map<String, String> metadata) {
        return new Parser(file, RawCheckpoint.mapWhole(file, arena)).parse(metadata);
    }

    /** One pass over the header, with the position and the checks. */
    private static final class Parser {
        private final Path file;
        private final MemorySegment all;
        private long pos;

        Parser(Path file, MemorySegment all) {
            this.file = file;
            this.all = all;
        }

        private ModelFileException bad(String what) {
            return new ModelFileException(file, what);
        }

        private void need(long bytes, String what) {
            if (bytes < 0 || bytes > all.byteSize() - pos) throw bad("truncated: " + what + " runs past the end of the file (" + all.byteSize() + " bytes)");
        }

        private int u32(String what) {
            need(4, what);
            int v = all.get(INT, pos);
            pos += 4;
            return v;
        }

        private long u64(String what) {
            need(8, what);
            long v = all.get(LONG, pos);
            pos += 8;
            return v;
        }

        private String string(String what) {
            long n = u64(what + " length");
            need(n, what);
            if (n > Integer.MAX_VALUE) throw bad(what + " is " + Long.toUnsignedString(n) + " bytes long");
            String s = new String(all.asSlice(pos, n).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
            pos += n;
            return s;
        }

        Map<String, TensorData> parse(Map<String, String> metadata) {
            if (all.byteSize() < 4 || all.get(INT, 0) != MAGIC) throw bad("not a gguf file (no GGUF magic)");
            pos = 4;
            int version = u32("version");
            if (version == 1) throw bad("gguf version 1 is not supported (re-convert it with a current ggml)");
            if (version < 2 || version > 3) throw bad("unknown gguf version " + Integer.toUnsignedString(version));
            long nTensors = u64("tensor count"), nKv = u64("key count");
            // Every tensor info takes at least 8 + 4 + 4 + 8 bytes, every key-value at least 8 + 4: refuse counts the file cannot hold.
            if (nTensors < 0 || nTensors > all.byteSize() / 24) {
                throw bad("tensor count " + Long.toUnsignedString(nTensors) + " does not fit the file (" + all.byteSize() + " bytes): truncated or corrupt");
            }
            if (nKv < 0 || nKv > all.byteSize() / 12) {
                throw bad("key count " + Long.toUnsignedString(nKv) + " does not fit the file (" + all.byteSize() + " bytes): truncated or corrupt");
            }

            Map<String, long[]> origShapes = new HashMap<>();
            long alignment = DEFAULT_ALIGNMENT;
            for (long i = 0; i < nKv; i++) {
                String key = string("key " + i);
                ValueType type = ValueType.of(u32("type of " + key));
                if (type == null) throw bad("key " + key + " has an unknown value type");
                if (type == ValueType.ARRAY) {
                    ValueType element = ValueType.of(u32("element type of " + key));
                    long count = u64("length of " + key);
                    if (element == null || element == ValueType.ARRAY) throw bad("key " + key + " is an array of an unknown type");
                    if (count < 0 || count > all.byteSize()) throw bad("key " + key + " has " + Long.toUnsignedString(count) + " elements");
                    if (key.startsWith(ORIG_SHAPE_PREFIX) && isInteger(element) && count <= 8) {
                        long[] shape = new long[(int) count];
                        for (int d = 0; d < shape.length; d++) shape[d] = integer(element, key);
                        origShapes.put(key.substring(ORIG_SHAPE_PREFIX.length()), shape);
                    } else {
                        skipArray(element, count, key);
                    }
                    continue;
                }
                String value = scalar(type, key);
                if (key.equals("general.alignment")) {
                    if (type != ValueType.UINT32) throw bad("general.alignment is " + type + ", not UINT32");
                    alignment = Long.parseLong(value);
                    if (alignment <= 0 || (alignment & (alignment - 1)) != 0) throw bad("general.alignment " + value + " is not a power of 2");
                }
                metadata.put(key, value);
            }

            record Info(String name, DType dtype, long[] shape, long offset, long bytes) {}
            List<Info> infos = new ArrayList<>();
            for (long i = 0; i < nTensors; i++) {
                String name = string("name of tensor " + i);
                int nDims = u32("dimensions of " + name);
                if (nDims < 1 || nDims > 4) throw bad("tensor " + name + " has " + Integer.toUnsignedString(nDims) + " dimensions (1 to 4 allowed)");
                long[] ne = new long[nDims];
                for (int d = 0; d < nDims; d++) {
                    ne[d] = u64("dimensions of " + name);
                    if (ne[d] < 0) throw bad("tensor " + name + " has a negative dimension");
                }
                int ggmlType = u32("type of " + name);
                long offset = u64("offset of " + name);
                DType dtype = DType.fromGgml(ggmlType)
                        .orElseThrow(() -> bad("tensor " + name + " has ggml type " + ggmlType + ", which Ember does not read"));
                long[] shape = new long[nDims];
                for (int d = 0; d < nDims; d++) shape[d] = ne[nDims - 1 - d]; // PyTorch order: outermost first
                long count, bytes;
                try {
                    count = TensorData.elementCount(shape);
                    if (ne[0] % dtype.blockSize() != 0) throw bad("tensor " + name + ": rows of " + ne[0] + " do not hold whole " + dtype + " blocks");
                    bytes = dtype.byteSize(count);
                } catch (ArithmeticException e) {
                    throw bad("tensor " + name + ": shape " + Arrays.toString(shape) + " is too large");
                }
                long[] orig = origShapes.remove(name);
                if (orig != null) {
                    long origCount;
                    try {
                        origCount = TensorData.elementCount(orig);
                    } catch (IllegalArgumentException | ArithmeticException e) {
                        throw bad(ORIG_SHAPE_PREFIX + name + " " + Arrays.toString(orig) + " is not a shape");
                    }
                    if (origCount != count) throw bad(ORIG_SHAPE_PREFIX + name + " " + Arrays.toString(orig) + " does not hold the tensor's " + count + " elements");
                    shape = orig;
                }
                infos.add(new Info(name, dtype, shape, offset, bytes));
            }
            long dataStart = (pos + alignment - 1) / alignment * alignment;
            long dataSize = all.byteSize() - dataStart;
            if (nTensors > 0 && dataSize < 0) throw bad("truncated: the file ends before its data area");
            List<Info> byOffset = new ArrayList<>(infos);
            byOffset.sort(Comparator.comparingLong(Info::offset));
            for (int i = 0; i < byOffset.size(); i++) {
                Info t = byOffset.get(i);
                if (t.offset < 0 || t.offset > dataSize || t.bytes > dataSize - t.offset) {
                    throw bad("tensor " + t.name + ": data [" + Long.toUnsignedString(t.offset) + ", +" + t.bytes + ") lies outside the data area ("
                            + dataSize + " bytes): truncated?");
                }
                if (t.offset % alignment != 0) throw bad("tensor " + t.name + ": offset " + t.offset + " is not aligned to " + alignment);
                if (i > 0 && t.offset < byOffset.get(i - 1).offset + byOffset.get(i - 1).bytes) {
                    throw bad("tensors " + byOffset.get(i - 1).name + " and " + t.name + " overlap");
                }
            }
            boolean unetOnly = isPrefixlessUnet(infos.stream().map(Info::name).toList());
            Map<String, TensorData> out = new LinkedHashMap<>();
            for (Info t : infos) {
                String name = unetOnly ? NetworkLayout.UNET_PREFIX + t.name : t.name;
                if (out.containsKey(name)) throw bad("tensor " + name + " appears twice");
                out.put(name, new TensorData(name, t.dtype, t.shape, all.asSlice(dataStart + t.offset, t.bytes)));
            }
            return out;
        }

        private static boolean isInteger(ValueType t) {
            return switch (t) {
                case UINT8, INT8, UINT16, INT16, UINT32, INT32, UINT64, INT64 -> true;
                default -> false;
            };
        }

        private long integer(ValueType t, String key) {
            need(t.size, key);
            long v = switch (t) {
                case UINT8 -> all.get(ValueLayout.JAVA_BYTE, pos) & 0xffL;
                case INT8 -> all.get(ValueLayout.JAVA_BYTE, pos);
                case UINT16 -> all.get(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), pos) & 0xffffL;
                case INT16 -> all.get(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), pos);
                case UINT32 -> all.get(INT, pos) & 0xffffffffL;
                case INT32 -> all.get(INT, pos);
                default -> all.get(LONG, pos);
            };
            pos += t.size;
            return v;
        }

        private String scalar(ValueType t, String key) {
            return switch (t) {
                case STRING -> string("value of " + key);
                case FLOAT32 -> {
                    need(4, key);
                    float f = Float.intBitsToFloat(all.get(INT, pos));
                    pos += 4;
                    yield Float.toString(f);
                }
                case FLOAT64 -> {
                    need(8, key);
                    double d = Double.longBitsToDouble(all.get(LONG, pos));
                    pos += 8;
                    yield Double.toString(d);
                }
                case BOOL -> {
                    need(1, key);
                    yield Boolean.toString(all.get(ValueLayout.JAVA_BYTE, pos++) != 0);
                }
                case UINT64 -> Long.toUnsignedString(integer(t, key));
                default -> Long.toString(integer(t, key));
            };
        }

        private void skipArray(ValueType element, long count, String key) {
            if (element == ValueType.STRING) {
                for (long i = 0; i < count; i++) {
                    long n = u64("element of " + key);
                    need(n, "element of " + key);
                    pos += n;
                }
            } else {
                long bytes;
                try {
                    bytes = Math.multiplyExact(count, (long) element.size);
                } catch (ArithmeticException e) {
                    throw bad("key " + key + " is too long");
                }
                need(bytes, "value of " + key);
                pos += bytes;
            }
        }
    }

    /**
     * Whether the names are a bare LDM UNet (city96's files): UNet module names and none of the top-level
     * prefixes a full checkpoint has.
     */
    static boolean isPrefixlessUnet(List<String> names) {
        boolean unet = false;
        for (String n : names) {
            if (n.startsWith("model.") || n.startsWith("first_stage_model.") || n.startsWith("cond_stage_model.") || n.startsWith("conditioner.")) return false;
            if (n.startsWith("input_blocks.") || n.startsWith("middle_block.") || n.startsWith("output_blocks.")) unet = true;
        }
        return unet;
    }
}
