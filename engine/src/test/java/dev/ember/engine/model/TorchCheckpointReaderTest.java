package dev.ember.engine.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TorchCheckpointReaderTest {
    @TempDir
    Path dir;

    static Path torchLike() throws URISyntaxException {
        return Path.of(TorchCheckpointReaderTest.class.getResource("torch-like.ckpt").toURI());
    }

    /** The pickle Python's own Pickler writes (memo, BUILD, shared storage, offsets), see make_torch_like.py. */
    @Test
    void readsWhatPythonsPicklerWrites() throws Exception {
        try (RawCheckpoint raw = TorchCheckpointReader.open(torchLike())) {
            var t = raw.tensors().tensors();
            assertEquals(java.util.List.of("a", "b"), java.util.List.copyOf(t.keySet()));
            assertArrayEquals(new long[] {2, 3}, t.get("a").shape());
            assertArrayEquals(new float[] {0, 1, 2, 3, 4, 5}, t.get("a").data().toArray(ValueLayout.JAVA_FLOAT_UNALIGNED));
            assertArrayEquals(new float[] {6, 7, 8, 9}, t.get("b").data().toArray(ValueLayout.JAVA_FLOAT_UNALIGNED));
            assertTrue(t.get("b").data().isMapped());
        }
    }

    @Test
    void compressedStoragesAreInflated() throws Exception {
        Path src = dir.resolve("tiny.ckpt"), deflated = dir.resolve("deflated.ckpt");
        SyntheticCheckpoint.write(ModelPreset.TINY, src, ModelFormat.CKPT, DType.F32, 5);
        try (ZipFile in = new ZipFile(src.toFile()); ZipOutputStream out = new ZipOutputStream(Files.newOutputStream(deflated))) {
            for (ZipEntry e : java.util.Collections.list(in.entries())) {
                out.putNextEntry(new ZipEntry(e.getName()));
                in.getInputStream(e).transferTo(out);
            }
        }
        try (Checkpoint a = ModelFiles.open(src); Checkpoint b = ModelFiles.open(deflated)) {
            assertEquals(a.tensors().tensors().size(), b.tensors().tensors().size());
            for (var e : a.tensors().tensors().entrySet()) {
                TensorData other = b.tensors().get(e.getKey());
                assertEquals(e.getValue(), other);
                assertFalse(other.data().isMapped());
            }
        }
    }

    @Test
    void closeIsIdempotentAndUnmaps() throws IOException, URISyntaxException {
        RawCheckpoint raw = TorchCheckpointReader.open(torchLike());
        var seg = raw.tensors().get("a").data();
        raw.close();
        raw.close();
        assertFalse(seg.scope().isAlive());
    }
}
