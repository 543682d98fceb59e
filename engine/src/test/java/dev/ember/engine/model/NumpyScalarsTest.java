package dev.ember.engine.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Old .ckpt files (SD 1.x's, Lightning's) carry training metadata as numpy scalars. With torch.save's
 * protocol 2, {@code np.int64(470000)} pickles as
 * {@code numpy.core.multiarray.scalar(numpy.dtype("i8", False, True) + BUILD (3, "<", ...), _codecs.encode("\u00f0+\u0007...", "latin1"))}
 * (Python's {@code pickle.dumps(np.int64(470000), protocol=2)}); these are read without running anything.
 */
class NumpyScalarsTest {
    @TempDir
    Path dir;

    /** The opcodes Python's Pickler (protocol 2) writes for a numpy scalar of dtype {@code code} holding {@code data}. */
    private static void numpyScalar(ByteArrayOutputStream out, String module, String code, String order, byte[] data) {
        out.writeBytes(new PickleWriter().global(module, "scalar").global("numpy", "dtype").string(code).bytes());
        out.write(0x89); // NEWFALSE
        out.write(0x88); // NEWTRUE
        out.write(0x87); // TUPLE3
        out.write('R');
        // BUILD with the dtype's state: (3, order, None, None, None, -1, -1, 0)
        out.writeBytes(new PickleWriter().mark().integer(3).string(order).bytes());
        out.write('N');
        out.write('N');
        out.write('N');
        out.writeBytes(new PickleWriter().integer(-1).integer(-1).integer(0).tuple().bytes());
        out.write('b');
        // the bytes, as protocol 2 spells them: _codecs.encode(latin1 text, "latin1")
        out.writeBytes(new PickleWriter().global("_codecs", "encode").string(new String(data, StandardCharsets.ISO_8859_1)).string("latin1").bytes());
        out.write(0x86); // TUPLE2
        out.write('R');
        out.write(0x86); // TUPLE2 (dtype, bytes)
        out.write('R');
    }

    private static byte[] le(int size, long bits) {
        ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        switch (size) {
            case 8 -> b.putLong(bits);
            case 4 -> b.putInt((int) bits);
            default -> b.put((byte) bits);
        }
        return b.array();
    }

    /** {"global_step": np.int64(470000), "epoch": np.float64(0.5), "best": np.float32(1.25) (numpy 2's module name), "ok": np.bool_(True), "state_dict": {...}}. */
    private static byte[] metadataPickle(byte[] stateDict) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(new PickleWriter().proto().emptyDict().mark().string("global_step").bytes());
        numpyScalar(out, "numpy.core.multiarray", "i8", "<", le(8, 470000));
        out.writeBytes(new PickleWriter().string("epoch").bytes());
        numpyScalar(out, "numpy.core.multiarray", "f8", "<", le(8, Double.doubleToLongBits(0.5)));
        out.writeBytes(new PickleWriter().string("best").bytes());
        numpyScalar(out, "numpy._core.multiarray", "f4", "<", le(4, Float.floatToIntBits(1.25f)));
        out.writeBytes(new PickleWriter().string("ok").bytes());
        numpyScalar(out, "numpy.core.multiarray", "b1", "|", le(1, 1));
        out.writeBytes(new PickleWriter().string("big").bytes());
        numpyScalar(out, "numpy.core.multiarray", "i4", ">", new byte[] {0, 0, 1, 2}); // big-endian 258
        out.writeBytes(new PickleWriter().string("odd").bytes());
        numpyScalar(out, "numpy.core.multiarray", "c16", "<", new byte[16]); // complex: kept undecoded
        out.writeBytes(new PickleWriter().setItems().bytes());
        out.writeBytes(stateDict);
        return out.toByteArray();
    }

    @Test
    void numpyScalarsDecodeToNumbers() {
        ByteArrayOutputStream end = new ByteArrayOutputStream();
        end.write('.');
        Object root = RestrictedUnpickler.load(metadataPickle(end.toByteArray()), pid -> null);
        Map<?, ?> m = assertInstanceOf(Map.class, root);
        assertEquals(470000L, m.get("global_step"));
        assertEquals(0.5, m.get("epoch"));
        assertEquals(1.25, m.get("best"));
        assertEquals(Boolean.TRUE, m.get("ok"));
        assertEquals(258L, m.get("big"), "BUILD's byte order is honoured");
        RestrictedUnpickler.NumpyScalar odd = assertInstanceOf(RestrictedUnpickler.NumpyScalar.class, m.get("odd"));
        assertEquals("c16", odd.dtype());
    }

    @Test
    void aCheckpointWithNumpyMetadataLoadsItsTensors() throws IOException {
        // {..numpy metadata.., "state_dict": {"w": tensor of 4 f32}} in a torch zip.
        PickleWriter w = new PickleWriter().string("state_dict").emptyDict().string("w").global("torch._utils", "_rebuild_tensor_v2").mark();
        w.mark().string("storage").global("torch", "FloatStorage").string("0").string("cpu").integer(4).tuple().persistentId();
        w.integer(0).longTuple(new long[] {4}).longTuple(new long[] {1}).bool(false);
        w.global("collections", "OrderedDict").emptyTuple().reduce().tuple().reduce().setItem().setItem().stop();
        byte[] pickle = metadataPickle(new byte[0]);
        // Put the state_dict item into the top-level dict: strip the trailing nothing, then append.
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        all.writeBytes(pickle);
        all.writeBytes(w.bytes());
        Path p = dir.resolve("old.ckpt");
        ByteBuffer values = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : new float[] {1, 2, 3, 4}) values.putFloat(f);
        try (ZipOutputStream z = new ZipOutputStream(Files.newOutputStream(p))) {
            z.putNextEntry(new ZipEntry("archive/data.pkl"));
            z.write(all.toByteArray());
            z.putNextEntry(new ZipEntry("archive/data/0"));
            z.write(values.array());
        }
        try (RawCheckpoint raw = TorchCheckpointReader.open(p)) {
            assertArrayEquals(new float[] {1, 2, 3, 4}, raw.tensors().get("w").data().toArray(ValueLayout.JAVA_FLOAT_UNALIGNED));
        }
    }

    @Test
    void otherNumpyAndCodecsGlobalsStayForbidden() {
        byte[] array = new PickleWriter().proto().global("numpy.core.multiarray", "_reconstruct").mark().tuple().reduce().stop().bytes();
        RestrictedUnpickler.PickleException e = assertThrows(RestrictedUnpickler.PickleException.class, () -> RestrictedUnpickler.load(array, pid -> null));
        assertTrue(e.getMessage().contains("forbidden global numpy.core.multiarray._reconstruct"), e.getMessage());
        byte[] decode = new PickleWriter().proto().global("_codecs", "decode").mark().tuple().reduce().stop().bytes();
        e = assertThrows(RestrictedUnpickler.PickleException.class, () -> RestrictedUnpickler.load(decode, pid -> null));
        assertTrue(e.getMessage().contains("forbidden global _codecs.decode"), e.getMessage());
        // _codecs.encode only as protocol 2's latin1 bytes, never another codec.
        byte[] rot = new PickleWriter().proto().global("_codecs", "encode").string("abc").string("rot13").bytes();
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.writeBytes(rot);
        b.write(0x86);
        b.write('R');
        b.write('.');
        e = assertThrows(RestrictedUnpickler.PickleException.class, () -> RestrictedUnpickler.load(b.toByteArray(), pid -> null));
        assertTrue(e.getMessage().contains("latin1"), e.getMessage());
    }
}
