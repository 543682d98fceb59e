package dev.ember.engine.model;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Emits the protocol-2 pickle opcodes a PyTorch state dict needs (the writing half of
 * {@link RestrictedUnpickler}); {@code torch.load} reads the result. No memo is used: nothing is shared.
 */
final class PickleWriter {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    PickleWriter proto() {
        out.write(0x80);
        out.write(2);
        return this;
    }

    PickleWriter mark() {
        out.write('(');
        return this;
    }

    PickleWriter emptyDict() {
        out.write('}');
        return this;
    }

    PickleWriter emptyTuple() {
        out.write(')');
        return this;
    }

    PickleWriter tuple() {
        out.write('t');
        return this;
    }

    PickleWriter setItem() {
        out.write('s');
        return this;
    }

    PickleWriter setItems() {
        out.write('u');
        return this;
    }

    PickleWriter reduce() {
        out.write('R');
        return this;
    }

    PickleWriter persistentId() {
        out.write('Q');
        return this;
    }

    PickleWriter bool(boolean b) {
        out.write(b ? 0x88 : 0x89);
        return this;
    }

    PickleWriter stop() {
        out.write('.');
        return this;
    }

    PickleWriter global(String module, String name) {
        out.write('c');
        out.writeBytes((module + "\n" + name + "\n").getBytes(StandardCharsets.US_ASCII));
        return this;
    }

    PickleWriter string(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        out.write('X');
        int4(b.length);
        out.writeBytes(b);
        return this;
    }

    PickleWriter integer(long v) {
        if (v >= 0 && v < 256) {
            out.write('K');
            out.write((int) v);
        } else if (v >= Integer.MIN_VALUE && v <= Integer.MAX_VALUE) {
            out.write('J');
            int4((int) v);
        } else {
            out.write(0x8a); // LONG1 with 8 bytes
            out.write(8);
            for (int i = 0; i < 8; i++) out.write((int) (v >>> (8 * i)) & 0xff);
        }
        return this;
    }

    PickleWriter longTuple(long[] values) {
        mark();
        for (long v : values) integer(v);
        return tuple();
    }

    byte[] bytes() {
        return out.toByteArray();
    }

    private void int4(int v) {
        for (int i = 0; i < 4; i++) out.write((v >>> (8 * i)) & 0xff);
    }
}
