package dev.ember.bindings;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Finds and loads libember once for the life of the JVM.
 *
 * <p>Places tried, in order, each reported in the error if all fail:
 * <ol>
 *   <li>the system property {@value #LIBRARY_PROPERTY}: a path to the library file, or to a folder of CPU
 *       variants (a build folder with {@value CpuVariant#MANIFEST});</li>
 *   <li>the environment variable {@value #LIBRARY_ENV}: the same;</li>
 *   <li>each folder of {@code java.library.path};</li>
 *   <li>the library packed in this jar under {@code /dev/ember/native/<platform>/}, extracted to a
 *       temporary folder. Where the jar packs CPU variants, {@link CpuVariants} picks the one to extract.</li>
 * </ol>
 *
 * <p>The lookup lives in {@link Arena#global()}: the library is never unloaded, because ggml's
 * OpenMP worker threads would outlive it and crash the JVM at exit.
 */
public final class NativeLibrary {
    public static final String LIBRARY_PROPERTY = "ember.library";
    public static final String LIBRARY_ENV = "EMBER_LIBRARY";

    private static final String BASE_NAME = "ember";

    private NativeLibrary() {}

    private static final class Holder {
        static final Loaded LOADED = load(System.getProperty(LIBRARY_PROPERTY), System.getenv(LIBRARY_ENV),
                System.getProperty("java.library.path", ""),
                "/dev/ember/native/" + platform() + "/" + System.mapLibraryName(BASE_NAME));
    }

    /** @param choice how the CPU variant was picked, null for a one-library build; variants the set it came from */
    record Loaded(SymbolLookup lookup, String from, CpuVariants.Choice choice, VariantSet variants) {
        Loaded(SymbolLookup lookup, String from) {
            this(lookup, from, null, null);
        }
    }

    /** The symbol lookup of libember, loading it on first use. */
    public static SymbolLookup lookup() {
        return Holder.LOADED.lookup();
    }

    /** Where the library was loaded from (a path, for messages and {@code ember --version}). */
    public static String loadedFrom() {
        return Holder.LOADED.from();
    }

    /** How the loaded library's CPU variant was chosen; empty for a one-library build (or a library named as a file). */
    public static java.util.Optional<CpuVariants.Choice> cpuVariantChoice() {
        return java.util.Optional.ofNullable(Holder.LOADED.choice());
    }

    /**
     * Measures every CPU variant this machine can run again and remembers the fastest for the next runs
     * (this process keeps the library it loaded). Fails where the library did not come from a variant set.
     */
    public static CpuVariants.Choice recalibrate(int threads) {
        VariantSet set = Holder.LOADED.variants();
        if (set == null) {
            throw new IllegalStateException("libember was loaded from " + loadedFrom() + ", not from a set of CPU variants: nothing to choose");
        }
        return CpuVariants.choose(set, CpuFeatures.ofThisMachine(), null, emberCache(), true, threads, NativeLibrary::say);
    }

    /** The platform folder name used inside the jar, e.g. {@code linux-x86_64}. */
    public static String platform() {
        String os = System.getProperty("os.name").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch").toLowerCase(Locale.ROOT);
        String osName = os.contains("mac") ? "macos" : os.contains("win") ? "windows" : "linux";
        String archName = switch (arch) {
            case "amd64", "x86_64" -> "x86_64";
            case "aarch64", "arm64" -> "aarch64";
            default -> arch;
        };
        return osName + "-" + archName;
    }

    /** Tries each place in turn; package-private so tests can check the error's list of places. */
    static Loaded load(String property, String env, String libraryPath, String resource) {
        List<String> tried = new ArrayList<>();
        String fileName = System.mapLibraryName(BASE_NAME);

        if (property != null && !property.isBlank()) {
            Loaded loaded = tryPathOrVariants(Path.of(property), "system property " + LIBRARY_PROPERTY, tried);
            if (loaded != null) return loaded;
        } else {
            tried.add("system property " + LIBRARY_PROPERTY + ": not set");
        }

        if (env != null && !env.isBlank()) {
            Loaded loaded = tryPathOrVariants(Path.of(env), "environment variable " + LIBRARY_ENV, tried);
            if (loaded != null) return loaded;
        } else {
            tried.add("environment variable " + LIBRARY_ENV + ": not set");
        }

        for (String dir : libraryPath.split(java.io.File.pathSeparator)) {
            if (dir.isBlank()) continue;
            Path candidate = Path.of(dir, fileName);
            if (Files.isRegularFile(candidate)) {
                Loaded loaded = tryPath(candidate, "java.library.path", tried);
                if (loaded != null) return loaded;
            }
        }
        tried.add("java.library.path (" + libraryPath + "): no " + fileName);

        String resourceFolder = resource.substring(0, resource.lastIndexOf('/'));
        try {
            java.util.Optional<VariantSet> packed = VariantSet.inJar(resourceFolder, NativeLibrary::extract);
            if (packed.isPresent()) return loadVariant(packed.get(), "jar resource " + resourceFolder, tried);
        } catch (IOException e) {
            tried.add("jar resource " + resourceFolder + ": " + e.getMessage());
        }
        try (InputStream in = NativeLibrary.class.getResourceAsStream(resource)) {
            if (in == null) {
                tried.add("jar resource " + resource + ": not packed in this jar");
            } else {
                Path file = extract(in.readAllBytes(), fileName);
                Loaded loaded = tryPath(file, "jar resource " + resource, tried);
                if (loaded != null) return loaded;
            }
        } catch (IOException e) {
            tried.add("jar resource " + resource + ": could not extract (" + e.getMessage() + ")");
        }

        throw new UnsatisfiedLinkError("could not load lib" + BASE_NAME + "; tried:\n  - " + String.join("\n  - ", tried));
    }

    /**
     * Writes the packed library to {@code <tmp>/ember-native-<hash>/}, named by a hash of its bytes, so
     * every JVM that packs the same build shares one copy (nothing piles up in /tmp) and a different
     * build never loads a stale one. Written to a temporary name and moved, so concurrent JVMs never
     * see a half-written file.
     */
    private static Path extract(byte[] bytes, String fileName) throws IOException {
        String hash;
        try {
            hash = java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(bytes), 0, 12);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IOException(e);
        }
        Path dir = Path.of(System.getProperty("java.io.tmpdir"), "ember-native-" + hash);
        Path file = dir.resolve(fileName);
        if (Files.isRegularFile(file) && Files.size(file) == bytes.length) return file;
        Files.createDirectories(dir);
        Path partial = Files.createTempFile(dir, fileName, ".part");
        try {
            Files.write(partial, bytes);
            Files.move(partial, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(partial);
        }
        return file;
    }

    /** A library file, or a folder of CPU variants. */
    private static Loaded tryPathOrVariants(Path path, String source, List<String> tried) {
        if (Files.isDirectory(path)) {
            try {
                java.util.Optional<VariantSet> set = VariantSet.inFolder(path);
                if (set.isPresent()) return loadVariant(set.get(), source + " " + path, tried);
                tried.add(source + ": " + path + " is a folder without " + CpuVariant.MANIFEST);
            } catch (IOException e) {
                tried.add(source + ": " + e.getMessage());
            }
            return null;
        }
        return tryPath(path, source, tried);
    }

    /**
     * Lets {@link CpuVariants} choose from {@code set} and loads the chosen variant. A variant that was asked
     * for but cannot be used, or a CPU that runs none, fails right here with its own message.
     */
    private static Loaded loadVariant(VariantSet set, String source, List<String> tried) {
        String forced = System.getProperty(CpuVariants.VARIANT_PROPERTY);
        if (forced == null || forced.isBlank()) forced = System.getenv(CpuVariants.VARIANT_ENV);
        CpuVariants.Choice choice = CpuVariants.choose(set, CpuFeatures.ofThisMachine(), forced, emberCache(), false, 0, NativeLibrary::say);
        Path file;
        try {
            file = set.file(choice.variant());
        } catch (IOException e) {
            tried.add(source + ": CPU variant " + choice.variant().name() + " could not be extracted (" + e.getMessage() + ")");
            return null;
        }
        Loaded loaded = tryPath(file, source + " (CPU variant " + choice.variant().name() + ")", tried);
        return loaded == null ? null : new Loaded(loaded.lookup(), loaded.from(), choice, set);
    }

    /** The one-line notices of the CPU variant choice go to stderr: stdout may carry a command's output. */
    private static void say(String line) {
        System.err.println(line);
        System.err.flush();
    }

    /** Ember's per-user cache: {@code $EMBER_CACHE}, else {@code ~/.cache/ember}. */
    private static Path emberCache() {
        String dir = System.getenv("EMBER_CACHE");
        return dir == null || dir.isBlank() ? Path.of(System.getProperty("user.home"), ".cache", "ember") : Path.of(dir);
    }

    private static Loaded tryPath(Path path, String source, List<String> tried) {
        if (!Files.isRegularFile(path)) {
            tried.add(source + ": " + path + " does not exist");
            return null;
        }
        try {
            SymbolLookup lookup = SymbolLookup.libraryLookup(path, Arena.global());
            return new Loaded(lookup, path.toAbsolutePath().toString());
        } catch (IllegalArgumentException | UnsatisfiedLinkError e) {
            tried.add(source + ": " + path + " failed to load (" + e.getMessage() + ")");
            return null;
        }
    }
}
