package dev.ember.engine.model;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ember.engine.ModelFileException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads a {@code .safetensors} file: an 8-byte little-endian header length, a JSON header naming each
 * tensor's dtype, shape and {@code [begin, end)} offsets into the data area that follows, and an
 * optional {@code __metadata__} string map. The whole file is mapped once; every tensor is a slice of
 * that mapping. Everything the header claims is checked against the file before a slice is made, so
 * a corrupt file gives a {@link ModelFileException}, never a read outside the mapping.
 */
public final class SafetensorsReader {
    /** The format's own limit; a larger "header" is a corrupt length, not a header. */
    static final long MAX_HEADER = 100L * 1024 * 1024;
    private static final ObjectMapper JSON = new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    private SafetensorsReader() {}

    /** Maps {@code file} and returns its tensors under their stored names; the StateDict owns the mapping. */
    public static RawCheckpoint open(Path file) {
        return RawCheckpoint.mapped(ModelFormat.SAFETENSORS, file, SafetensorsReader::read);
    }

    /** Maps {@code file} into {@code arena} (which the caller owns); fills {@code metadata} from {@code __metadata__}. */
    public static Map<String, TensorData> read(Path file, Arena arena, Map<String, String> metadata) {
        MemorySegment all = RawCheckpoint.mapWhole(file, arena);
        long size = all.byteSize();
        if (size < 8) throw new ModelFileException(file, "truncated: " + size + " bytes, too short for a safetensors header");
        long headerLength = all.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), 0);
        if (headerLength < 0 || headerLength > size - 8) {
            throw new ModelFileException(file, "header length " + Long.toUnsignedString(headerLength) + " exceeds the file size ("
                    + size + " bytes): truncated or not a safetensors file");
        }
        if (headerLength > MAX_HEADER) throw new ModelFileException(file, "header length " + headerLength + " is over the 100 MB limit");
        byte[] headerBytes = all.asSlice(8, headerLength).toArray(ValueLayout.JAVA_BYTE);
        JsonNode header;
        try {
            header = JSON.readTree(headerBytes);
        } catch (JsonProcessingException e) {
            throw new ModelFileException(file, "header is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new ModelFileException(file, "header is not valid JSON: " + e.getMessage());
        }
        if (header == null || !header.isObject()) throw new ModelFileException(file, "header is not a JSON object");

        long dataStart = 8 + headerLength;
        long dataSize = size - dataStart;
        record Entry(String name, DType dtype, long[] shape, long begin, long end) {}
        List<Entry> entries = new ArrayList<>();
        for (Map.Entry<String, JsonNode> field : header.properties()) {
            String name = field.getKey();
            JsonNode node = field.getValue();
            if (name.equals("__metadata__")) {
                readMetadata(file, node, metadata);
                continue;
            }
            if (!node.isObject()) throw new ModelFileException(file, "tensor " + name + ": header entry is not an object");
            JsonNode dtypeNode = node.get("dtype");
            if (dtypeNode == null || !dtypeNode.isTextual()) throw new ModelFileException(file, "tensor " + name + ": no dtype");
            DType dtype = DType.fromSafetensors(dtypeNode.asText())
                    .orElseThrow(() -> new ModelFileException(file, "tensor " + name + " has unknown dtype '" + dtypeNode.asText() + "'"));
            long[] shape = longs(file, name, node.get("shape"), "shape", -1);
            long[] offsets = longs(file, name, node.get("data_offsets"), "data_offsets", 2);
            long begin = offsets[0], end = offsets[1];
            if (begin > end || end > dataSize) {
                throw new ModelFileException(file, "tensor " + name + ": data offsets [" + begin + ", " + end + "] outside the data area ("
                        + dataSize + " bytes)");
            }
            long expected;
            try {
                expected = Math.multiplyExact(TensorData.elementCount(shape), dtype.byteSize());
            } catch (ArithmeticException e) {
                throw new ModelFileException(file, "tensor " + name + ": shape " + java.util.Arrays.toString(shape) + " is too large");
            }
            if (expected != end - begin) {
                throw new ModelFileException(file, "tensor " + name + ": shape " + java.util.Arrays.toString(shape) + " x " + dtype
                        + " needs " + expected + " bytes but its data offsets span " + (end - begin));
            }
            entries.add(new Entry(name, dtype, shape, begin, end));
        }
        // Overlap check on offset order; gaps are tolerated (other writers may align), overlaps never.
        List<Entry> byOffset = new ArrayList<>(entries);
        byOffset.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        for (int i = 1; i < byOffset.size(); i++) {
            Entry prev = byOffset.get(i - 1), cur = byOffset.get(i);
            if (cur.begin < prev.end) throw new ModelFileException(file, "tensors " + prev.name + " and " + cur.name + " overlap");
        }
        Map<String, TensorData> out = new LinkedHashMap<>();
        for (Entry e : entries) {
            out.put(e.name, new TensorData(e.name, e.dtype, e.shape, all.asSlice(dataStart + e.begin, e.end - e.begin)));
        }
        return out;
    }

    private static void readMetadata(Path file, JsonNode node, Map<String, String> metadata) {
        if (node.isNull()) return;
        if (!node.isObject()) throw new ModelFileException(file, "__metadata__ is not a JSON object");
        for (Map.Entry<String, JsonNode> m : node.properties()) {
            if (!m.getValue().isTextual()) throw new ModelFileException(file, "__metadata__ value of " + m.getKey() + " is not a string");
            metadata.put(m.getKey(), m.getValue().asText());
        }
    }

    private static long[] longs(Path file, String tensor, JsonNode node, String what, int count) {
        if (node == null || !node.isArray() || (count >= 0 && node.size() != count)) {
            throw new ModelFileException(file, "tensor " + tensor + ": " + what + " is not " + (count >= 0 ? "an array of " + count + " integers" : "an integer array"));
        }
        long[] out = new long[node.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode v = node.get(i);
            if (!v.canConvertToLong() || !v.isIntegralNumber() || v.asLong() < 0) {
                throw new ModelFileException(file, "tensor " + tensor + ": " + what + " holds " + v + ", not a non-negative integer");
            }
            out[i] = v.asLong();
        }
        return out;
    }
}
