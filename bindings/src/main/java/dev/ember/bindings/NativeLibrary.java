package dev.ember.bindings;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.module.FindException;
import java.lang.module.ModuleFinder;
import java.lang.module.ModuleReader;
import java.lang.module.ModuleReference;
import java.lang.foreign.SymbolLookup;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Properties;

/**
 * Finds and loads libember once for the life of the JVM.
 *
 * <p>Places tried, in order, each reported in the error if all fail:
 * <ol>
 *   <li>the system property {@value #LIBRARY_PROPERTY}: a path to the library file, or to a folder of CPU
 *       variants (a build folder with {@value CpuVariant#MANIFEST});</li>
 *   <li>the environment variable {@value #LIBRARY_ENV}: the same;</li>
 *   <li>each folder of {@code java.library.path};</li>
 *   <li>the library in the platform jar {@code dev.ember:ember-native:<version>:<platform>} under
 *       {@code dev/ember/native/<platform>/}: on the class path, in a resolved module, or in the module
 *       {@code dev.ember.natives.<platform with dots>} on the module path even when nothing resolved it
 *       ({@link #readPacked}); extracted to a folder of the current user's own:
 *       {@code <Ember cache>/native/<SHA-256 of the library>/}, else
 *       {@code <java.io.tmpdir>/ember-<uid>/native/<SHA-256>/} (see {@link #extract}). Where the jar packs
 *       CPU variants, {@link CpuVariants} picks the one to extract and load.</li>
 * </ol>
 *
 * <p>The lookup lives in {@link Arena#global()}: the library is never unloaded, because ggml's
 * OpenMP worker threads would outlive it and crash the JVM at exit. Nothing here prints: where the
 * library came from goes to {@link System.Logger} (logger {@code dev.ember.bindings}, level DEBUG).
 */
public final class NativeLibrary {
    public static final String LIBRARY_PROPERTY = "ember.library";
    public static final String LIBRARY_ENV = "EMBER_LIBRARY";
    /** Moves the Ember cache (tests use it to keep a temporary one); wins over {@value #CACHE_ENV}. */
    public static final String CACHE_PROPERTY = "ember.cache";
    public static final String CACHE_ENV = "EMBER_CACHE";

    private static final String BASE_NAME = "ember";
    private static final System.Logger LOG = System.getLogger("dev.ember.bindings");

    private NativeLibrary() {}

    private static final class Holder {
        static final Loaded LOADED = logged(load(System.getProperty(LIBRARY_PROPERTY), System.getenv(LIBRARY_ENV),
                System.getProperty("java.library.path", ""),
                "/dev/ember/native/" + platform() + "/" + System.mapLibraryName(BASE_NAME), defaultExtractionPlaces()));

        private static Loaded logged(Loaded loaded) {
            LOG.log(System.Logger.Level.DEBUG, () -> "libember loaded from " + loaded.from());
            return loaded;
        }
    }

    /**
     * @param choice   how the CPU variant was picked; null for a one-library build or a library file named directly
     * @param variants the variant set it was picked from, or null
     */
    record Loaded(SymbolLookup lookup, String from, CpuVariants.Choice choice, VariantSet variants) {
        Loaded(SymbolLookup lookup, String from) {
            this(lookup, from, null, null);
        }
    }

    /**
     * Where the packed library may be extracted: {@code base/below.../<sha256>/}, every folder from
     * {@code below} on private to the current user ({@link PrivateFolder}).
     */
    record Place(Path base, List<String> below) {
        Place {
            below = List.copyOf(below);
        }

        @Override
        public String toString() {
            return base.resolve(String.join("/", below)).toString();
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

    /** How the loaded library's CPU variant was chosen; empty for a one-library build or a library file named directly. */
    public static Optional<CpuVariants.Choice> cpuVariantChoice() {
        return Optional.ofNullable(Holder.LOADED.choice());
    }

    /**
     * Measures every CPU variant this machine can run again and remembers the fastest for the runs that
     * follow (this process keeps the library it loaded).
     *
     * @param threads threads to measure with, 0 = all cores
     * @throws IllegalStateException where the library did not come from a set of CPU variants
     */
    public static CpuVariants.Choice recalibrate(int threads) {
        VariantSet set = Holder.LOADED.variants();
        if (set == null) {
            throw new IllegalStateException("libember was loaded from " + loadedFrom() + ", not from a set of CPU variants: nothing to choose");
        }
        return CpuVariants.choose(set, CpuFeatures.ofThisMachine(), null, cacheRoot(), true, threads, NativeLibrary::say);
    }

    /**
     * Ember's per-user cache: the system property {@value #CACHE_PROPERTY}, else {@code $EMBER_CACHE},
     * else {@code ~/.cache/ember}. It holds the extracted library, the tiny model and the build's ggml.
     */
    public static Path cacheRoot() {
        String dir = System.getProperty(CACHE_PROPERTY);
        if (dir == null || dir.isBlank()) dir = System.getenv(CACHE_ENV);
        if (dir == null || dir.isBlank()) return Path.of(System.getProperty("user.home"), ".cache", "ember");
        return Path.of(dir);
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

    /** The Ember cache first, then a folder of the user's own in the temporary folder. */
    static List<Place> defaultExtractionPlaces() {
        String user;
        try {
            user = Integer.toString(PrivateFolder.currentUid());
        } catch (IOException | RuntimeException e) {
            user = System.getProperty("user.name", "user").replaceAll("[^A-Za-z0-9._-]", "_");
        }
        return List.of(new Place(cacheRoot(), List.of("native")),
                new Place(Path.of(System.getProperty("java.io.tmpdir")), List.of("ember-" + user, "native")));
    }

    /** Tries each place in turn; package-private so tests can check the error's list of places. */
    static Loaded load(String property, String env, String libraryPath, String resource, List<Place> places) {
        List<String> tried = new ArrayList<>();
        String fileName = System.mapLibraryName(BASE_NAME);

        if (property != null && !property.isBlank()) {
            Loaded loaded = tryPathOrVariants(Path.of(property), "system property " + LIBRARY_PROPERTY, places, tried);
            if (loaded != null) return loaded;
        } else {
            tried.add("system property " + LIBRARY_PROPERTY + ": not set");
        }

        if (env != null && !env.isBlank()) {
            Loaded loaded = tryPathOrVariants(Path.of(env), "environment variable " + LIBRARY_ENV, places, tried);
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
            Optional<VariantSet> variants = VariantSet.inJar(resourceFolder, (bytes, name) -> extractToFirst(bytes, name, places));
            if (variants.isPresent()) {
                Loaded loaded = loadVariant(variants.get(), "jar resource " + resourceFolder, tried);
                if (loaded != null) return loaded;
            }
        } catch (IOException e) {
            tried.add("jar resource " + resourceFolder + ": " + e.getMessage());
        }

        byte[] packed = null;
        try {
            packed = readPacked(resource).orElse(null);
            if (packed == null) tried.add("jar resource " + resource + ": not on the class path or module path (" + missingArtifact() + ")");
        } catch (IOException | UncheckedIOException | FindException e) {
            tried.add("jar resource " + resource + ": cannot read (" + e.getMessage() + ")");
        }
        if (packed != null) {
            for (Place place : places) {
                Path file;
                try {
                    file = extract(packed, fileName, place);
                } catch (IOException e) {
                    tried.add("jar resource " + resource + ": not extracted to " + place + " (" + e.getMessage() + ")");
                    continue;
                }
                Loaded loaded = tryPath(file, "jar resource " + resource, tried);
                if (loaded != null) return loaded;
            }
        }
        String hint = tried.stream().anyMatch(t -> t.contains("not extracted to"))
                ? " (no folder of your own to extract it to: set " + CACHE_ENV + " to one only you can write, or " + LIBRARY_ENV + ")"
                : packed == null ? " (" + missingArtifact() + ")" : "";
        throw new UnsatisfiedLinkError("could not load lib" + BASE_NAME + hint + "; tried:\n  - " + String.join("\n  - ", tried));
    }

    /**
     * The bytes of the packed library {@code resource} (an absolute name): through this class's loader,
     * which sees the class path and every resolved module (the folder is no package, so no module hides
     * it), else from the platform module's jar on the module path ({@code jdk.module.path}), which nothing
     * needs to resolve: an application names the engine and the native jar, not {@code --add-modules}.
     */
    static Optional<byte[]> readPacked(String resource) throws IOException {
        String name = resource.startsWith("/") ? resource.substring(1) : resource;
        ClassLoader loader = NativeLibrary.class.getClassLoader();
        try (InputStream in = loader == null ? ClassLoader.getSystemResourceAsStream(name) : loader.getResourceAsStream(name)) {
            if (in != null) return Optional.of(in.readAllBytes());
        }
        String modulePath = System.getProperty("jdk.module.path");
        if (modulePath == null || modulePath.isBlank()) return Optional.empty();
        Path[] entries = java.util.Arrays.stream(modulePath.split(java.io.File.pathSeparator))
                .filter(e -> !e.isBlank()).map(Path::of).toArray(Path[]::new);
        Optional<ModuleReference> module = ModuleFinder.of(entries).find(nativeModule());
        if (module.isEmpty()) return Optional.empty();
        try (ModuleReader reader = module.get().open(); var in = reader.open(name).orElse(null)) {
            return in == null ? Optional.empty() : Optional.of(in.readAllBytes());
        }
    }

    /** The module name of this platform's native jar, e.g. {@code dev.ember.natives.linux.x86_64}. */
    static String nativeModule() {
        return "dev.ember.natives." + platform().replace('-', '.');
    }

    /** The classifiers of the ember-native jars Ember publishes (bom/pom.xml has one entry for each). */
    public static final List<String> PUBLISHED_PLATFORMS = List.of("linux-x86_64");

    /** What to add when no library was found: the Maven coordinates of this platform's native jar. */
    static String missingArtifact() {
        return missingArtifact(platform());
    }

    static String missingArtifact(String platform) {
        String file = "/path/to/" + System.mapLibraryName(BASE_NAME);
        if (!PUBLISHED_PLATFORMS.contains(platform)) {
            return "Ember publishes no native jar for " + platform + " (only for " + String.join(", ", PUBLISHED_PLATFORMS)
                    + "): build libember (scripts/build-native.sh) and set -D" + LIBRARY_PROPERTY + "=" + file;
        }
        return "add dev.ember:ember-native:" + version() + ":" + platform + " (Maven: artifact ember-native, classifier "
                + platform + ") to the class path or module path, or set -D" + LIBRARY_PROPERTY + "=" + file;
    }

    /** Ember's version, from the build ({@code ember-version.properties} next to this class). */
    public static String version() {
        try (InputStream in = NativeLibrary.class.getResourceAsStream("ember-version.properties")) {
            if (in == null) return "<version>";
            Properties p = new Properties();
            p.load(in);
            return p.getProperty("version", "<version>");
        } catch (IOException e) {
            return "<version>";
        }
    }

    /**
     * The packed library as a file in {@code place/<its full SHA-256>/}, a folder only the current user
     * can change ({@link PrivateFolder}). A file already there is used only if its whole content has that
     * hash; anything else in its place (a stale or planted file, a link) is replaced. The copy is written
     * to a temporary name and renamed, so concurrent first runs (threads or processes) never see a partial
     * file, and checked again before it is returned. Every JVM of one build and user shares one copy.
     *
     * @throws IOException naming the place and what is wrong with it when it is not safe or not writable
     */
    static Path extract(byte[] bytes, String fileName, Place place) throws IOException {
        String hash = sha256(bytes);
        List<String> below = new ArrayList<>(place.below());
        below.add(hash);
        Path dir = PrivateFolder.prepare(place.base(), below.toArray(String[]::new));
        Path file = dir.resolve(fileName);
        if (hasHash(file, hash)) return file;
        Path partial = Files.createTempFile(dir, fileName, ".part");
        try {
            Files.write(partial, bytes);
            Files.move(partial, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(partial);
        }
        if (!hasHash(file, hash)) throw new IOException(file + " does not hold the library just written to it");
        return file;
    }

    /** {@link #extract} to the first of {@code places} that works. */
    private static Path extractToFirst(byte[] bytes, String fileName, List<Place> places) throws IOException {
        List<String> failures = new ArrayList<>();
        for (Place place : places) {
            try {
                return extract(bytes, fileName, place);
            } catch (IOException e) {
                failures.add(place + " (" + e.getMessage() + ")");
            }
        }
        throw new IOException("not extracted to " + String.join(", ", failures));
    }

    /** Whether {@code file} is a regular file (not a link) whose full content has SHA-256 {@code hash}. */
    private static boolean hasHash(Path file, String hash) throws IOException {
        if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) return false;
        return sha256(Files.readAllBytes(file)).equals(hash);
    }

    static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("no SHA-256 in this JDK", e);
        }
    }

    /** A library file, or a folder of CPU variants (files used where they are). */
    private static Loaded tryPathOrVariants(Path path, String source, List<Place> places, List<String> tried) {
        if (!Files.isDirectory(path)) return tryPath(path, source, tried);
        try {
            Optional<VariantSet> set = VariantSet.inFolder(path);
            if (set.isPresent()) return loadVariant(set.get(), source + " " + path, tried);
            tried.add(source + ": " + path + " is a folder without " + CpuVariant.MANIFEST);
        } catch (IOException e) {
            tried.add(source + ": " + e.getMessage());
        }
        return null;
    }

    /**
     * Lets {@link CpuVariants} choose from {@code set} and loads the chosen variant. A variant that was named
     * but cannot be used, or a CPU that runs none, fails right here with its own message.
     */
    private static Loaded loadVariant(VariantSet set, String source, List<String> tried) {
        String forced = System.getProperty(CpuVariants.VARIANT_PROPERTY);
        if (forced == null || forced.isBlank()) forced = System.getenv(CpuVariants.VARIANT_ENV);
        CpuVariants.Choice choice = CpuVariants.choose(set, CpuFeatures.ofThisMachine(), forced, cacheRoot(), false, 0, NativeLibrary::say);
        Path file;
        try {
            file = set.file(choice.variant());
        } catch (IOException e) {
            tried.add(source + ": CPU variant " + choice.variant().name() + " " + e.getMessage());
            return null;
        }
        Loaded loaded = tryPath(file, source + " (CPU variant " + choice.variant().name() + ")", tried);
        return loaded == null ? null : new Loaded(loaded.lookup(), loaded.from(), choice, set);
    }

    /** The CPU variant choice's one-line notices go to stderr: stdout may carry a command's output. */
    /**
     * The CPU-variant choice's messages: a library prints nothing on its own, so they go to {@link System.Logger}
     * (DEBUG: applications decide whether to show it;
     * {@code ember --version} reports the variant and how it was chosen).
     */
    private static void say(String line) {
        LOG.log(System.Logger.Level.DEBUG, line);
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
