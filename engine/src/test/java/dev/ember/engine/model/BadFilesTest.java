package dev.ember.engine.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ember.engine.ModelFileException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every kind of bad file gives its own one-line ModelFileException, never a crash or a read outside the mapping. */
class BadFilesTest {
    @TempDir
    Path dir;

    private String fails(Path p) {
        ModelFileException e = assertThrows(ModelFileException.class, () -> ModelFiles.open(p).close());
        assertTrue(e.getMessage().startsWith(p + ": "), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        return e.getMessage();
    }

    private Path safetensors(String name, String header, int dataBytes) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        Path p = dir.resolve(name);
        Files.write(p, b.array());
        return p;
    }

    private Path tiny(ModelFormat f) {
        Path p = dir.resolve("tiny." + f.label());
        SyntheticCheckpoint.write(ModelPreset.TINY, p, f, DType.F16, 0);
        return p;
    }

    @Test
    void emptyFile() throws IOException {
        Path p = Files.createFile(dir.resolve("empty.safetensors"));
        assertTrue(fails(p).endsWith("empty file"));
        Path c = Files.createFile(dir.resolve("empty.ckpt"));
        assertTrue(fails(c).endsWith("empty file"));
    }

    @Test
    void truncatedFile() throws IOException {
        Path p = tiny(ModelFormat.SAFETENSORS);
        byte[] all = Files.readAllBytes(p);
        Files.write(p, Arrays.copyOf(all, 5));
        assertTrue(fails(p).contains("truncated: 5 bytes"));
        Files.write(p, Arrays.copyOf(all, all.length - 1000));
        assertTrue(fails(p).contains("outside the data area"), fails(p));
    }

    @Test
    void truncatedCheckpoint() throws IOException {
        Path p = tiny(ModelFormat.CKPT);
        byte[] all = Files.readAllBytes(p);
        Files.write(p, Arrays.copyOf(all, all.length / 2));
        assertTrue(fails(p).contains("bad zip: no zip end-of-central-directory record"));
    }

    @Test
    void headerLengthBeyondTheFile() throws IOException {
        Path p = dir.resolve("long.safetensors");
        Files.write(p, ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(1_000_000).array());
        assertTrue(fails(p).contains("header length 1000000 exceeds the file size (16 bytes)"));
    }

    @Test
    void headerNotJson() throws IOException {
        Path p = safetensors("notjson.safetensors", "{\"a\": [1, 2", 0);
        assertTrue(fails(p).contains("header is not valid JSON"));
        Path q = safetensors("array.safetensors", "[1, 2]", 0);
        assertTrue(fails(q).contains("header is not a JSON object"));
    }

    @Test
    void unknownDtype() throws IOException {
        Path p = safetensors("dtype.safetensors", "{\"w\": {\"dtype\": \"F8_E4M3\", \"shape\": [2], \"data_offsets\": [0, 2]}}", 2);
        assertTrue(fails(p).endsWith("tensor w has unknown dtype 'F8_E4M3'"));
    }

    @Test
    void offsetsOutsideTheData() throws IOException {
        Path p = safetensors("offsets.safetensors", "{\"w\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [8, 24]}}", 16);
        assertTrue(fails(p).endsWith("tensor w: data offsets [8, 24] outside the data area (16 bytes)"));
    }

    @Test
    void overlappingTensors() throws IOException {
        Path p = safetensors("overlap.safetensors", "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]},"
                + " \"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]}}", 12);
        assertTrue(fails(p).endsWith("tensors a and b overlap"));
    }

    @Test
    void shapeTimesDtypeMismatch() throws IOException {
        Path p = safetensors("shape.safetensors", "{\"w\": {\"dtype\": \"F16\", \"shape\": [3, 2], \"data_offsets\": [0, 8]}}", 8);
        assertTrue(fails(p).endsWith("tensor w: shape [3, 2] x F16 needs 12 bytes but its data offsets span 8"));
    }

    @Test
    void missingRequiredTensors() throws IOException {
        var tensors = new java.util.ArrayList<>(SyntheticCheckpoint.tensors(ModelPreset.TINY.spec(), 0, DType.F16));
        tensors.removeIf(t -> t.name().equals("first_stage_model.decoder.conv_out.bias") || t.name().endsWith("layers.1.mlp.fc2.weight"));
        Path p = dir.resolve("missing.safetensors");
        SafetensorsWriter.write(p, ModelMetadata.describe(ModelPreset.TINY.spec(), "tiny"), tensors);
        String m = fails(p);
        assertTrue(m.contains("missing required tensors for SD 1.x (2): "), m);
        assertTrue(m.contains("first_stage_model.decoder.conv_out.bias"), m);
        assertTrue(m.contains("cond_stage_model.transformer.text_model.encoder.layers.1.mlp.fc2.weight"), m);
        // inspect() does not refuse it: the report lists them
        try (Checkpoint c = ModelFiles.inspect(p, null)) {
            assertEquals(2, c.report().missing().size());
        }
    }

    @Test
    void wrongShapeForTheDetectedArchitecture() throws IOException {
        var tensors = SyntheticCheckpoint.tensors(ModelPreset.TINY.spec(), 0, DType.F16).stream()
                .map(t -> t.name().endsWith("middle_block.1.transformer_blocks.0.ff.net.2.weight") ? new TensorSource(t.name(), t.dtype(), new long[] {64, 64}, seg -> seg.fill((byte) 0)) : t).toList();
        Path p = dir.resolve("wrong.safetensors");
        SafetensorsWriter.write(p, ModelMetadata.describe(ModelPreset.TINY.spec(), "tiny"), tensors);
        String m = fails(p);
        assertTrue(m.contains("wrong shape for the detected architecture (SD 1.x): model.diffusion_model.middle_block.1.transformer_blocks.0.ff.net.2.weight is [64, 64], expected [64, 256]"), m);
    }

    @Test
    void zipWithoutDataPkl() throws IOException {
        Path p = dir.resolve("nopkl.ckpt");
        try (ZipOutputStream z = new ZipOutputStream(Files.newOutputStream(p))) {
            z.putNextEntry(new ZipEntry("archive/version"));
            z.write("3\n".getBytes(StandardCharsets.US_ASCII));
        }
        assertTrue(fails(p).endsWith("zip has no data.pkl: not a PyTorch checkpoint"));
    }

    private Path ckptWithPickle(String name, byte[] pickle) throws IOException {
        Path p = dir.resolve(name);
        try (ZipOutputStream z = new ZipOutputStream(Files.newOutputStream(p))) {
            z.putNextEntry(new ZipEntry("exploit/data.pkl"));
            z.write(pickle);
        }
        return p;
    }

    @Test
    void pickleNamingAForbiddenGlobalIsRefusedNotRun() throws IOException {
        // GLOBAL os.system + REDUCE("touch pwned"): what a malicious checkpoint does
        byte[] global = new PickleWriter().proto().global("os", "system").mark().string("touch pwned").tuple().reduce().stop().bytes();
        assertTrue(fails(ckptWithPickle("global.ckpt", global)).endsWith("pickle refers to forbidden global os.system (only tensors and dicts are allowed)"));
        // the same through STACK_GLOBAL (protocol 4)
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.writeBytes(new byte[] {(byte) 0x80, 4});
        b.writeBytes(new PickleWriter().string("builtins").string("eval").bytes());
        b.write(0x93);
        b.writeBytes(new PickleWriter().mark().string("1+1").tuple().reduce().stop().bytes());
        assertTrue(fails(ckptWithPickle("stack.ckpt", b.toByteArray())).endsWith("pickle refers to forbidden global builtins.eval (only tensors and dicts are allowed)"));
        assertFalse(Files.exists(Path.of("pwned")));
    }

    @Test
    void truncatedPickle() throws IOException {
        byte[] pkl = TorchCheckpointWriter.pickle(Map.of(), SyntheticCheckpoint.tensors(ModelPreset.TINY.spec(), 0, DType.F32));
        assertTrue(fails(ckptWithPickle("cut.ckpt", Arrays.copyOf(pkl, pkl.length / 2))).endsWith("pickle is truncated or malformed"));
    }

    /** A checkpoint with one f32 tensor "w" viewing storage "0" of {@code storageBytes} bytes. */
    private Path oneTensorCkpt(String name, long offset, long[] size, long[] stride, int storageBytes) throws IOException {
        PickleWriter w = new PickleWriter().proto().emptyDict().string("w").global("torch._utils", "_rebuild_tensor_v2").mark();
        w.mark().string("storage").global("torch", "FloatStorage").string("0").string("cpu").integer(storageBytes / 4).tuple().persistentId();
        w.integer(offset).longTuple(size).longTuple(stride).bool(false);
        w.global("collections", "OrderedDict").emptyTuple().reduce().tuple().reduce().setItem().stop();
        Path p = dir.resolve(name);
        try (ZipOutputStream z = new ZipOutputStream(Files.newOutputStream(p))) {
            z.putNextEntry(new ZipEntry("archive/data.pkl"));
            z.write(w.bytes());
            z.putNextEntry(new ZipEntry("archive/data/0"));
            z.write(new byte[storageBytes]);
        }
        return p;
    }

    @Test
    void nonContiguousTensorIsRefused() throws IOException {
        Path p = oneTensorCkpt("strided.ckpt", 0, new long[] {2, 3}, new long[] {1, 2}, 24);
        assertTrue(fails(p).contains("tensor w is not contiguous (size [2, 3], stride [1, 2])"));
    }

    @Test
    void tensorOutsideItsStorageIsRefused() throws IOException {
        Path p = oneTensorCkpt("offset.ckpt", 4, new long[] {2, 3}, new long[] {3, 1}, 24);
        assertTrue(fails(p).endsWith("tensor w: elements [4, 10) lie outside its storage of 6"));
        Path q = oneTensorCkpt("huge.ckpt", Long.MAX_VALUE / 2, new long[] {2}, new long[] {1}, 24);
        assertTrue(fails(q).contains("lie outside its storage"));
    }

    @Test
    void notAZipCheckpoint() throws IOException {
        Path p = dir.resolve("legacy.pt");
        Files.write(p, new byte[] {(byte) 0x80, 2, '}', '.'});
        assertTrue(fails(p).contains("not a zip-format PyTorch checkpoint"));
    }

    @Test
    void diffusersFolderWithoutModelIndex() throws IOException {
        Path d = Files.createDirectories(dir.resolve("notdiffusers"));
        assertTrue(fails(d).endsWith("folder has no model_index.json: not a diffusers model"));
    }

    @Test
    void missingFile() {
        assertTrue(fails(dir.resolve("nope.safetensors")).endsWith("no such file or folder"));
    }
}
