package dev.ember.engine.model;

import dev.ember.engine.ModelFileException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The file hashes A1111 writes into its infotext, so that tools that look resources up by hash (civitai's,
 * A1111's own) find Ember's: SHA-256 of the whole file for embeddings ({@code TI hashes}, 12 hex digits) and
 * VAEs ({@code VAE hash}, 10), and for {@code .safetensors} LoRAs kohya's "addnet" hash, the SHA-256 of the bytes
 * after the header ({@code Lora hashes}, 12; other LoRA files: the whole file). Results are kept per
 * (path, size, modification time), so a file is read once per process however often it is used.
 */
public final class FileHashes {
    private record Key(Path path, long size, long modified, boolean afterHeader) {}

    private static final Map<Key, String> CACHE = new ConcurrentHashMap<>();

    private FileHashes() {}

    /** SHA-256 of the whole file, hex. */
    public static String sha256(Path file) {
        return hash(file, false);
    }

    /** A LoRA's hash as A1111 computes it: kohya's addnet hash for {@code .safetensors}, the file's SHA-256 otherwise. */
    public static String loraSha256(Path file) {
        return hash(file, file.getFileName().toString().toLowerCase(java.util.Locale.ROOT).endsWith(".safetensors"));
    }

    private static String hash(Path file, boolean afterHeader) {
        try {
            Path real = file.toRealPath();
            Key key = new Key(real, Files.size(real), Files.getLastModifiedTime(real).toMillis(), afterHeader);
            String cached = CACHE.get(key);
            if (cached != null) return cached;
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            try (InputStream in = Files.newInputStream(real)) {
                if (afterHeader) {
                    byte[] length = in.readNBytes(8);
                    if (length.length < 8) throw new ModelFileException(file, "too short for a safetensors header");
                    long skip = ByteBuffer.wrap(length).order(ByteOrder.LITTLE_ENDIAN).getLong();
                    if (skip < 0) throw new ModelFileException(file, "bad safetensors header length " + skip);
                    in.skipNBytes(Math.min(skip, key.size() - 8));
                }
                byte[] buf = new byte[1 << 20];
                for (int n; (n = in.read(buf)) > 0; ) sha.update(buf, 0, n);
            }
            String hex = HexFormat.of().formatHex(sha.digest());
            CACHE.put(key, hex);
            return hex;
        } catch (IOException e) {
            throw new ModelFileException(file, "cannot read for its hash: " + e.getMessage(), e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
