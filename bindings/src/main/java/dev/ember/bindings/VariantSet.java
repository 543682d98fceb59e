package dev.ember.bindings;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The CPU variants of libember that one build made ({@link CpuVariant}): listed by the manifest
 * {@value CpuVariant#MANIFEST} in a folder (a build folder, or {@code EMBER_LIBRARY} naming one) or packed
 * in this jar next to the libraries. Package-private: {@link NativeLibrary} finds one and lets
 * {@link CpuVariants} choose from it.
 */
final class VariantSet implements CpuVariants.Library {
    /** Writes a packed library to a file of the user's own (NativeLibrary's extraction). */
    interface Extractor {
        Path extract(byte[] bytes, String fileName) throws IOException;
    }

    private final String where;
    private final List<CpuVariant> variants;
    private final Path folder;            // the libraries' folder, or null when packed in the jar
    private final String resourceFolder;  // the jar folder, or null
    private final Extractor extractor;
    private final Map<String, byte[]> bytes = new HashMap<>();

    private VariantSet(String where, List<CpuVariant> variants, Path folder, String resourceFolder, Extractor extractor) {
        this.where = where;
        this.variants = variants;
        this.folder = folder;
        this.resourceFolder = resourceFolder;
        this.extractor = extractor;
    }

    /** The set in {@code folder}, if it holds a manifest. */
    static Optional<VariantSet> inFolder(Path folder) throws IOException {
        Path manifest = folder.resolve(CpuVariant.MANIFEST);
        if (!Files.isRegularFile(manifest)) return Optional.empty();
        return Optional.of(new VariantSet(folder.toString(), parse(Files.readString(manifest), manifest.toString()), folder, null, null));
    }

    /** The set packed under {@code resourceFolder} (e.g. {@code /dev/ember/native/linux-x86_64}), if it has a manifest. */
    static Optional<VariantSet> inJar(String resourceFolder, Extractor extractor) throws IOException {
        String manifest = resourceFolder + "/" + CpuVariant.MANIFEST;
        // Read as the single library is (class path, resolved modules, or the native jar on the module path).
        Optional<byte[]> packed = NativeLibrary.readPacked(manifest);
        if (packed.isEmpty()) return Optional.empty();
        String text = new String(packed.get(), StandardCharsets.UTF_8);
        return Optional.of(new VariantSet("jar resource " + resourceFolder, parse(text, "jar resource " + manifest), null, resourceFolder, extractor));
    }

    private static List<CpuVariant> parse(String text, String from) throws IOException {
        try {
            return CpuVariant.parseManifest(text);
        } catch (IllegalArgumentException e) {
            throw new IOException(from + ": " + e.getMessage(), e);
        }
    }

    /** Where the set is, for messages. */
    String where() {
        return where;
    }

    @Override
    public List<CpuVariant> variants() {
        return variants;
    }

    @Override
    public byte[] bytes(CpuVariant v) throws IOException {
        byte[] b = bytes.get(v.name());
        if (b != null) return b;
        if (folder != null) {
            b = Files.readAllBytes(folder.resolve(v.fileName()));
        } else {
            b = NativeLibrary.readPacked(resourceFolder + "/" + v.fileName())
                    .orElseThrow(() -> new IOException(v.fileName() + " is listed in the manifest but not packed in this jar"));
        }
        bytes.put(v.name(), b);
        return b;
    }

    @Override
    public Path file(CpuVariant v) throws IOException {
        if (folder != null) {
            Path file = folder.resolve(v.fileName());
            if (!Files.isRegularFile(file)) throw new IOException(file + " is listed in the manifest but does not exist");
            return file;
        }
        return extractor.extract(bytes(v), v.fileName());
    }
}
