package dev.ember.engine.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ember.engine.ModelFileException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * gguf files: Ember's writer and reader agree with each other and with the format (ggml/include/gguf.h);
 * SD 2.x's OpenCLIP names and city96's UNet-only layout (prefix stripped, tensors flattened to rows of 256
 * with {@code comfy.gguf.orig_shape.*}) are read back as the twin safetensors file holds them; damaged
 * files give one-line errors.
 */
class GgufReaderTest {
    @TempDir
    Path dir;

    @Test
    void sd2OpenClipNamesLoadLikeTheSafetensorsTwin() {
        Path st = dir.resolve("sd2.safetensors"), gg = dir.resolve("sd2.gguf");
        SyntheticCheckpoint.write(ModelFormatsTest.TINY_SD2, "sd2-tiny", st, ModelFormat.SAFETENSORS, DType.F16, 5);
        SyntheticCheckpoint.write(ModelFormatsTest.TINY_SD2, "sd2-tiny", gg, ModelFormat.GGUF, DType.F16, 5);
        try (RawCheckpoint raw = ModelFiles.readRaw(gg)) {
            assertEquals(ModelFormat.GGUF, raw.format());
            assertTrue(raw.tensors().contains("cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight"), "OpenCLIP names as written");
            assertEquals("sd2", raw.metadata().get(ModelMetadata.ARCHITECTURE));
        }
        try (Checkpoint a = ModelFiles.open(st); Checkpoint b = ModelFiles.open(gg)) {
            assertEquals(a.spec(), b.spec());
            assertEquals(a.tensors().tensors().keySet(), b.tensors().tensors().keySet());
            for (var e : a.tensors().tensors().entrySet()) assertEquals(e.getValue(), b.tensors().get(e.getKey()), e.getKey());
        }
    }

    /** The tiny UNet as city96's convert.py and llama-quantize leave it: no prefix, K-quant weights flattened to rows of 256. */
    private Path city96Unet(Map<String, TensorData> twin, Arena arena) {
        List<TensorSource> out = new ArrayList<>();
        for (TensorSource t : SyntheticCheckpoint.tensors(ModelPreset.TINY.spec(), 9, DType.F16)) {
            if (!t.name().startsWith(NetworkLayout.UNET_PREFIX)) continue;
            String bare = t.name().substring(NetworkLayout.UNET_PREFIX.length());
            long n = TensorData.elementCount(t.shape());
            MemorySegment f16 = arena.allocate(n * 2);
            t.filler().accept(f16);
            if (t.shape().length > 1 && n % 256 == 0) {
                float[] values = new float[(int) n];
                for (int i = 0; i < n; i++) values[i] = Float.float16ToFloat(f16.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i));
                byte[] blocks = GgmlBlocks.quantize(DType.Q4_K, values);
                out.add(new TensorSource(bare, DType.Q4_K, t.shape(), s -> MemorySegment.copy(MemorySegment.ofArray(blocks), 0, s, 0, blocks.length)));
                twin.put(t.name(), new TensorData(t.name(), DType.Q4_K, t.shape(), arena.allocateFrom(ValueLayout.JAVA_BYTE, blocks)));
            } else {
                out.add(t.as(bare, t.shape()));
                twin.put(t.name(), new TensorData(t.name(), DType.F16, t.shape(), f16));
            }
        }
        Path p = dir.resolve("unet-Q4_K.gguf");
        GgufWriter.write(p, Map.of("general.architecture", "sd1"), out);
        return p;
    }

    @Test
    void city96UnetFilesGetTheirPrefixAndShapesBack() throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            Map<String, TensorData> twin = new java.util.LinkedHashMap<>();
            Path p = city96Unet(twin, arena);
            try (RawCheckpoint raw = ModelFiles.readRaw(p)) {
                assertEquals(twin.keySet(), raw.tensors().tensors().keySet());
                for (var e : twin.entrySet()) assertEquals(e.getValue(), raw.tensors().get(e.getKey()), e.getKey());
                // e.g. the 3x3 conv [64, 64, 3, 3], 144 blocks of 256 ...
                String conv = NetworkLayout.UNET_PREFIX + "input_blocks.3.0.out_layers.3.weight";
                assertArrayEquals(new long[] {64, 64, 3, 3}, raw.tensors().get(conv).shape());
                assertEquals(DType.Q4_K, raw.tensors().get(conv).dtype());
            }
            // ... which the file stores flattened, its real shape under comfy.gguf.orig_shape.<name>.
            String text = new String(Files.readAllBytes(p), StandardCharsets.ISO_8859_1);
            assertTrue(text.contains(GgufReader.ORIG_SHAPE_PREFIX + "input_blocks.3.0.out_layers.3.weight"));
            ModelFileException e = assertThrows(ModelFileException.class, () -> ModelFiles.open(p).close());
            assertTrue(e.getMessage().endsWith("holds only a UNet (as city96's ComfyUI-GGUF files do); Ember needs the text encoder and the VAE in the same file"),
                    e.getMessage());
        }
    }

    // ---- damaged files -----------------------------------------------------------------------------------------

    /** A one-tensor gguf built field by field, so each test can spoil one field. */
    private static final class Builder {
        int magic = GgufReader.MAGIC, version = 3, nDims = 2, type = 0;
        long nTensors = 1, nKv = 1, offset = 0, dataBytes = 16;
        long[] ne = {2, 2};
        int alignment = 32;

        byte[] bytes() {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            out.writeBytes(le(24).putInt(magic).putInt(version).putLong(nTensors).putLong(nKv).array());
            string(out, "general.alignment");
            out.writeBytes(le(8).putInt(GgufReader.ValueType.UINT32.ordinal()).putInt(alignment).array());
            string(out, "w");
            ByteBuffer info = le(4 + 8 * ne.length + 12).putInt(nDims);
            for (long d : ne) info.putLong(d);
            out.writeBytes(info.putInt(type).putLong(offset).array());
            while (out.size() % 32 != 0) out.write(0);
            out.writeBytes(new byte[(int) dataBytes]);
            return out.toByteArray();
        }

        private static ByteBuffer le(int n) {
            return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
        }

        private static void string(ByteArrayOutputStream out, String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            out.writeBytes(le(8).putLong(b.length).array());
            out.writeBytes(b);
        }
    }

    private String fails(byte[] bytes) throws IOException {
        Path p = dir.resolve("bad.gguf");
        Files.write(p, bytes);
        ModelFileException e = assertThrows(ModelFileException.class, () -> ModelFiles.readRaw(p).close());
        assertTrue(e.getMessage().startsWith(p + ": "), e.getMessage());
        return e.getMessage().substring(p.toString().length() + 2);
    }

    @Test
    void theBuilderMakesAValidFile() throws IOException {
        Path p = dir.resolve("ok.gguf");
        Files.write(p, new Builder().bytes());
        try (RawCheckpoint raw = ModelFiles.readRaw(p)) {
            assertArrayEquals(new long[] {2, 2}, raw.tensors().get("w").shape());
            assertEquals("32", raw.metadata().get("general.alignment"));
        }
    }

    @Test
    void damagedFilesAreRefusedInOneLine() throws IOException {
        Builder b;
        b = new Builder();
        b.magic = 0x12345678;
        assertEquals("not a gguf file (no GGUF magic)", fails(b.bytes()));
        b = new Builder();
        b.version = 1;
        assertEquals("gguf version 1 is not supported (re-convert it with a current ggml)", fails(b.bytes()));
        b = new Builder();
        b.version = 4;
        assertEquals("unknown gguf version 4", fails(b.bytes()));
        b = new Builder();
        b.nTensors = 1L << 40;
        assertTrue(fails(b.bytes()).startsWith("tensor count 1099511627776 does not fit the file ("), "huge count");
        b = new Builder();
        b.type = 16; // IQ2_XXS
        assertEquals("tensor w has ggml type 16, which Ember does not read", fails(b.bytes()));
        b = new Builder();
        b.nDims = 5;
        assertTrue(fails(b.bytes()).startsWith("tensor w has 5 dimensions"));
        b = new Builder();
        b.dataBytes = 8; // the tensor needs 16
        assertTrue(fails(b.bytes()).contains("lies outside the data area"));
        b = new Builder();
        b.offset = 4;
        b.dataBytes = 32;
        assertEquals("tensor w: offset 4 is not aligned to 32", fails(b.bytes()));
        b = new Builder();
        b.alignment = 24;
        assertEquals("general.alignment 24 is not a power of 2", fails(b.bytes()));
        b = new Builder();
        b.type = 8; // q8_0 needs rows of 32
        assertEquals("tensor w: rows of 2 do not hold whole Q8_0 blocks", fails(b.bytes()));
        byte[] whole = new Builder().bytes();
        assertTrue(fails(java.util.Arrays.copyOf(whole, 40)).startsWith("truncated: "));
    }

    @Test
    void aGgufMagicWinsOverTheExtension() throws IOException {
        Path p = dir.resolve("model.safetensors");
        Files.write(p, new Builder().bytes());
        assertEquals(ModelFormat.GGUF, ModelFiles.formatOf(p));
    }
}
