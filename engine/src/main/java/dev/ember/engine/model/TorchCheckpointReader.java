package dev.ember.engine.model;

import dev.ember.engine.ModelFileException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Reads PyTorch zip checkpoints ({@code .ckpt}, {@code .pt}, {@code .bin}): {@code <folder>/data.pkl}
 * holds the state dict as a pickle, read by {@link RestrictedUnpickler}; each storage is the zip entry
 * {@code <folder>/data/<key>}. Storages that are STORED (as torch saves them) are slices of the mapped
 * file; compressed ones are inflated once. A top-level {@code state_dict} entry (Lightning checkpoints)
 * is unwrapped; other non-tensor entries (global_step, ...) are ignored.
 */
public final class TorchCheckpointReader {
    private TorchCheckpointReader() {}

    public static RawCheckpoint open(Path file) {
        return RawCheckpoint.mapped(ModelFormat.CKPT, file, TorchCheckpointReader::read);
    }

    /** Maps {@code file} into {@code arena} (owned by the caller) and returns its tensors under their stored names;
     * Ember's own metadata, when present, goes into {@code metadata}. */
    public static Map<String, TensorData> read(Path file, Arena arena, Map<String, String> metadata) {
        return read(file, arena, metadata, false);
    }

    /**
     * As {@link #read}, with the tensors of nested dicts too, named {@code outer.inner} (textual-inversion files
     * keep their vectors in {@code string_to_param}).
     */
    public static Map<String, TensorData> readNested(Path file, Arena arena) {
        return read(file, arena, new HashMap<>(), true);
    }

    private static Map<String, TensorData> read(Path file, Arena arena, Map<String, String> metadata, boolean nested) {
        MemorySegment all = RawCheckpoint.mapWhole(file, arena);
        if (all.byteSize() < 4 || all.get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), 0) != 0x04034b50) {
            throw new ModelFileException(file, "not a zip-format PyTorch checkpoint (legacy torch.save files are not supported)");
        }
        ZipIndex zip = ZipIndex.read(file, all);
        // torch names the folder after the file it saved to ("archive" in recent versions); take whichever is there.
        String prefix = null;
        for (String name : zip.entries().keySet()) {
            if (name.endsWith("/data.pkl") && name.indexOf('/') == name.length() - "/data.pkl".length()) {
                prefix = name.substring(0, name.length() - "data.pkl".length());
                break;
            }
            if (name.equals("data.pkl")) prefix = "";
        }
        if (prefix == null) throw new ModelFileException(file, "zip has no data.pkl: not a PyTorch checkpoint");
        ZipIndex.Entry order = zip.entries().get(prefix + "byteorder");
        if (order != null) {
            String bo = new String(zip.data(order, arena).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.US_ASCII).trim();
            if (!bo.equals("little")) throw new ModelFileException(file, "checkpoint byte order is '" + bo + "', only little-endian is supported");
        }
        byte[] pickle = zip.data(zip.entries().get(prefix + "data.pkl"), arena).toArray(ValueLayout.JAVA_BYTE);
        Object root;
        try {
            root = RestrictedUnpickler.load(pickle, pid -> storage(pid));
        } catch (RestrictedUnpickler.PickleException e) {
            throw new ModelFileException(file, e.getMessage());
        }
        if (root instanceof Map<?, ?> m && m.get(TorchCheckpointWriter.METADATA_KEY) instanceof Map<?, ?> meta) {
            meta.forEach((k, v) -> {
                if (k instanceof String ks && v instanceof String vs) metadata.put(ks, vs);
            });
        }
        if (root instanceof Map<?, ?> m && m.get("state_dict") instanceof Map<?, ?> inner) root = inner;
        if (!(root instanceof Map<?, ?> dict)) throw new ModelFileException(file, "data.pkl does not hold a dict of tensors");

        Map<String, TensorData> out = new LinkedHashMap<>();
        collect(file, zip, arena, prefix, dict, "", nested, new HashMap<>(), out);
        return out;
    }

    /** The tensors of {@code dict} under {@code names} + key, and of its nested dicts when {@code nested}. */
    private static void collect(Path file, ZipIndex zip, Arena arena, String prefix, Map<?, ?> dict, String names, boolean nested,
                                Map<String, MemorySegment> storages, Map<String, TensorData> out) {
        for (var e : dict.entrySet()) {
            if (!(e.getKey() instanceof String key)) continue;
            String name = names + key;
            if (nested && e.getValue() instanceof Map<?, ?> inner) {
                collect(file, zip, arena, prefix, inner, name + ".", true, storages, out);
                continue;
            }
            if (!(e.getValue() instanceof RestrictedUnpickler.TensorRef ref)) continue;
            String storageKey = prefix + "data/" + ref.storage().key();
            MemorySegment storage = storages.computeIfAbsent(storageKey, k -> {
                ZipIndex.Entry entry = zip.entries().get(k);
                if (entry == null) throw new ModelFileException(file, "tensor " + name + ": storage " + k + " is not in the zip");
                return zip.data(entry, arena);
            });
            out.put(name, tensor(file, name, ref, storage));
        }
    }

    private static RestrictedUnpickler.StorageRef storage(RestrictedUnpickler.Tuple pid) {
        var items = pid.items();
        if (items.size() < 3 || !"storage".equals(items.get(0)) || !(items.get(2) instanceof String key)) {
            throw new RestrictedUnpickler.PickleException("unsupported persistent id " + items.size() + "-tuple");
        }
        return new RestrictedUnpickler.StorageRef(key, RestrictedUnpickler.storageType(items.get(1)));
    }

    private static TensorData tensor(Path file, String name, RestrictedUnpickler.TensorRef ref, MemorySegment storage) {
        long[] size = ref.size(), stride = ref.stride();
        if (size.length != stride.length) throw new ModelFileException(file, "tensor " + name + ": size and stride ranks differ");
        long n;
        try {
            n = TensorData.elementCount(size);
        } catch (IllegalArgumentException | ArithmeticException e) {
            throw new ModelFileException(file, "tensor " + name + ": bad size " + Arrays.toString(size));
        }
        // Contiguous means row-major strides; a dimension of size 1 may carry any stride.
        long expect = 1;
        for (int i = size.length - 1; i >= 0; i--) {
            if (size[i] != 1 && stride[i] != expect) {
                throw new ModelFileException(file, "tensor " + name + " is not contiguous (size " + Arrays.toString(size) + ", stride "
                        + Arrays.toString(stride) + "); save it with .contiguous()");
            }
            expect *= size[i];
        }
        long es = ref.storage().dtype().byteSize();
        long begin, bytes, end;
        try {
            begin = Math.multiplyExact(ref.offset(), es);
            bytes = Math.multiplyExact(n, es);
            end = Math.addExact(begin, bytes);
        } catch (ArithmeticException e) {
            begin = bytes = end = Long.MAX_VALUE;
        }
        if (ref.offset() < 0 || end > storage.byteSize()) {
            throw new ModelFileException(file, "tensor " + name + ": elements [" + ref.offset() + ", " + (ref.offset() + n)
                    + ") lie outside its storage of " + storage.byteSize() / es);
        }
        return new TensorData(name, ref.storage().dtype(), size, storage.asSlice(begin, bytes));
    }
}
