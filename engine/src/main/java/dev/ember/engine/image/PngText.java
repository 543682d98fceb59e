package dev.ember.engine.image;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32;

/**
 * Reads and writes PNG text chunks, where generators keep their parameters: AUTOMATIC1111 puts a
 * {@code parameters} tEXt chunk, Ember adds a JSON one. Works on encoded PNG bytes, so any encoder
 * can produce the image.
 *
 * <p>Values are written as iTXt (UTF-8) when they are not Latin-1, tEXt otherwise, as the PNG
 * specification asks; both are read.
 */
public final class PngText {
    private static final byte[] SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

    private PngText() {}

    /** {@code png} with one text chunk per entry inserted before IEND. */
    public static byte[] insert(byte[] png, Map<String, String> texts) {
        checkSignature(png);
        int iend = findChunk(png, "IEND");
        if (iend < 0) throw new IllegalArgumentException("PNG has no IEND chunk");
        ByteArrayOutputStream out = new ByteArrayOutputStream(png.length + 1024);
        out.write(png, 0, iend);
        texts.forEach((key, value) -> writeChunk(out, key, value));
        out.write(png, iend, png.length - iend);
        return out.toByteArray();
    }

    /** Every tEXt and iTXt (uncompressed) chunk, in file order. */
    public static Map<String, String> read(byte[] png) throws IOException {
        checkSignature(png);
        Map<String, String> out = new LinkedHashMap<>();
        int pos = SIGNATURE.length;
        while (pos + 12 <= png.length) {
            int length = ByteBuffer.wrap(png, pos, 4).getInt();
            if (length < 0 || pos + 12L + length > png.length) throw new IOException("PNG chunk runs past the end of the file");
            String type = new String(png, pos + 4, 4, StandardCharsets.ISO_8859_1);
            byte[] data = Arrays.copyOfRange(png, pos + 8, pos + 8 + length);
            if (type.equals("tEXt")) {
                int zero = indexOf(data, 0, 0);
                if (zero > 0) out.put(latin1(data, 0, zero), latin1(data, zero + 1, data.length));
            } else if (type.equals("iTXt")) {
                readInternational(data, out);
            }
            if (type.equals("IEND")) break;
            pos += 12 + length;
        }
        return out;
    }

    private static void readInternational(byte[] data, Map<String, String> out) {
        int keyEnd = indexOf(data, 0, 0);
        if (keyEnd <= 0 || keyEnd + 2 >= data.length) return;
        boolean compressed = data[keyEnd + 1] != 0;
        int langEnd = indexOf(data, 0, keyEnd + 3);
        int transEnd = langEnd < 0 ? -1 : indexOf(data, 0, langEnd + 1);
        if (compressed || transEnd < 0) return;
        out.put(latin1(data, 0, keyEnd), new String(data, transEnd + 1, data.length - transEnd - 1, StandardCharsets.UTF_8));
    }

    private static void writeChunk(ByteArrayOutputStream out, String key, String value) {
        if (key.isEmpty() || key.length() > 79 || !StandardCharsets.ISO_8859_1.newEncoder().canEncode(key)) {
            throw new IllegalArgumentException("PNG text key must be 1-79 Latin-1 characters: " + key);
        }
        ByteArrayOutputStream data = new ByteArrayOutputStream();
        data.writeBytes(key.getBytes(StandardCharsets.ISO_8859_1));
        data.write(0);
        if (StandardCharsets.ISO_8859_1.newEncoder().canEncode(value)) {
            data.writeBytes(value.getBytes(StandardCharsets.ISO_8859_1));
            emit(out, "tEXt", data.toByteArray());
        } else {
            data.write(0); // not compressed
            data.write(0); // compression method
            data.write(0); // empty language tag
            data.write(0); // empty translated keyword
            data.writeBytes(value.getBytes(StandardCharsets.UTF_8));
            emit(out, "iTXt", data.toByteArray());
        }
    }

    private static void emit(ByteArrayOutputStream out, String type, byte[] data) {
        byte[] typeBytes = type.getBytes(StandardCharsets.ISO_8859_1);
        out.writeBytes(ByteBuffer.allocate(4).putInt(data.length).array());
        out.writeBytes(typeBytes);
        out.writeBytes(data);
        CRC32 crc = new CRC32();
        crc.update(typeBytes);
        crc.update(data);
        out.writeBytes(ByteBuffer.allocate(4).putInt((int) crc.getValue()).array());
    }

    private static int findChunk(byte[] png, String wanted) {
        int pos = SIGNATURE.length;
        while (pos + 12 <= png.length) {
            int length = ByteBuffer.wrap(png, pos, 4).getInt();
            String type = new String(png, pos + 4, 4, StandardCharsets.ISO_8859_1);
            if (type.equals(wanted)) return pos;
            if (length < 0) return -1;
            pos += 12 + length;
        }
        return -1;
    }

    private static void checkSignature(byte[] png) {
        if (png.length < SIGNATURE.length || !Arrays.equals(png, 0, SIGNATURE.length, SIGNATURE, 0, SIGNATURE.length)) {
            throw new IllegalArgumentException("not a PNG file");
        }
    }

    private static int indexOf(byte[] data, int value, int from) {
        for (int i = from; i < data.length; i++) if (data[i] == value) return i;
        return -1;
    }

    private static String latin1(byte[] data, int from, int to) {
        return new String(data, from, to - from, StandardCharsets.ISO_8859_1);
    }
}
