package dev.ember.engine.gpu;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * The CUDA runtime ({@code libcudart}) through FFM, when this machine has one: device facts that
 * ggml's device list lacks (compute capability, multiprocessors, driver and runtime versions) and
 * pinned host memory for the buffers copied to the GPU every step.
 *
 * <p>Nothing is loaded until {@link #probe()} is first called, and a machine without CUDA is no
 * error: the probe then reports absent, with every place it looked, and Ember stays on the CPU path.
 * Where it looks, in order: the system property {@value #LIBRARY_PROPERTY} or the environment
 * variable {@value #LIBRARY_ENV} (a file; if set, nothing else is tried); the sonames
 * {@code libcudart.so.13}, {@code .12} and {@code libcudart.so} through the system's loader
 * ({@code LD_LIBRARY_PATH}, the ld.so cache); then the {@code lib64} folders of {@code $CUDA_HOME},
 * {@code $CUDA_PATH}, {@code /usr/local/cuda} and {@code /usr/local/cuda-*} (newest first).
 * {@code -D}{@value #DISABLE_PROPERTY}{@code =false} turns the search off.
 *
 * <p>Only functions whose signatures are stable across CUDA 11 to 13 are bound:
 * {@code cudaGetDeviceCount}, {@code cudaDeviceGetAttribute}, {@code cudaMemGetInfo},
 * {@code cudaSetDevice}, {@code cudaDriverGetVersion}, {@code cudaRuntimeGetVersion},
 * {@code cudaHostAlloc}, {@code cudaFreeHost}, {@code cudaGetErrorString}. The device name comes
 * from {@code cudaGetDeviceProperties}, whose struct layout changes between versions, so only its
 * first field ({@code char name[256]}, at offset 0 in every version) is read, out of a buffer far
 * larger than any version's struct.
 */
public final class CudaRuntime {
    public static final String LIBRARY_PROPERTY = "ember.cudart";
    public static final String LIBRARY_ENV = "EMBER_CUDART";
    public static final String DISABLE_PROPERTY = "ember.cuda";
    static final List<String> SONAMES = List.of("libcudart.so.13", "libcudart.so.12", "libcudart.so");

    private static final int ATTR_MULTIPROCESSORS = 16;   // cudaDevAttrMultiProcessorCount
    private static final int ATTR_CC_MAJOR = 75;          // cudaDevAttrComputeCapabilityMajor
    private static final int ATTR_CC_MINOR = 76;          // cudaDevAttrComputeCapabilityMinor
    private static final int HOST_ALLOC_PORTABLE = 1;     // cudaHostAllocPortable: pinned for every context
    private static final long PROPS_BUFFER = 16 * 1024;   // cudaDeviceProp is about 1 KiB in CUDA 11-13

    /** One CUDA device as the runtime sees it ({@code ordinal} is ggml's N in {@code CUDA<N>}). */
    public record Device(int ordinal, String name, int computeMajor, int computeMinor, int multiprocessors) {
        public String computeCapability() {
            return computeMajor + "." + computeMinor;
        }
    }

    /** Free and total device memory in bytes. */
    public record MemoryInfo(long free, long total) {}

    /**
     * The outcome of looking for the runtime.
     *
     * @param runtime the runtime, or empty
     * @param tried   every place looked at, each with what happened there
     * @param reason  why it is absent (empty when present)
     */
    public record Probe(Optional<CudaRuntime> runtime, List<String> tried, String reason) {
        public Probe {
            tried = List.copyOf(tried);
        }

        public boolean present() {
            return runtime.isPresent();
        }

        /** One line: where the runtime was found, or why not and where it looked. */
        public String describe() {
            if (runtime.isPresent()) return "CUDA runtime " + runtime.get().library();
            return "no CUDA runtime: " + reason + (tried.isEmpty() ? "" : " (looked at: " + String.join("; ", tried) + ")");
        }
    }

    private static final class Holder {
        static final Probe PROBE = probeDefault();
    }

    /** Looks for the runtime once per JVM (lazily, on first call); never throws. */
    public static Probe probe() {
        return Holder.PROBE;
    }

    /** The runtime if this machine has one. */
    public static Optional<CudaRuntime> find() {
        return probe().runtime();
    }

    private static Probe probeDefault() {
        try {
            if ("false".equalsIgnoreCase(System.getProperty(DISABLE_PROPERTY, "").strip())) {
                return new Probe(Optional.empty(), List.of(), "disabled by -D" + DISABLE_PROPERTY + "=false");
            }
            String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
            if (!os.contains("linux")) return new Probe(Optional.empty(), List.of(), "only looked for on Linux (this is " + os + ")");
            String explicit = System.getProperty(LIBRARY_PROPERTY);
            if (explicit == null || explicit.isBlank()) explicit = System.getenv(LIBRARY_ENV);
            if (explicit != null && !explicit.isBlank()) return search(List.of(explicit.strip()));
            return search(defaultCandidates());
        } catch (RuntimeException | LinkageError e) {
            return new Probe(Optional.empty(), List.of(), "the search failed: " + e);
        }
    }

    /** Sonames first (the system loader's search), then files in the usual toolkit folders. */
    static List<String> defaultCandidates() {
        List<String> out = new ArrayList<>(SONAMES);
        List<Path> dirs = new ArrayList<>();
        for (String env : List.of("CUDA_HOME", "CUDA_PATH")) {
            String v = System.getenv(env);
            if (v != null && !v.isBlank()) dirs.add(Path.of(v.strip(), "lib64"));
        }
        dirs.add(Path.of("/usr/local/cuda/lib64"));
        try (Stream<Path> s = Files.list(Path.of("/usr/local"))) {
            s.filter(p -> p.getFileName().toString().startsWith("cuda-"))
                    .sorted(Comparator.comparing((Path p) -> versionKey(p.getFileName().toString().substring(5))).reversed())
                    .forEach(p -> dirs.add(p.resolve("lib64")));
        } catch (IOException | RuntimeException e) {
            // no /usr/local: nothing more to look at
        }
        for (Path dir : dirs) {
            if (!Files.isDirectory(dir)) continue;
            for (String name : SONAMES) out.add(dir.resolve(name).toString());
        }
        return out;
    }

    private static long versionKey(String version) {
        long key = 0;
        String[] parts = version.split("\\.");
        for (int i = 0; i < 3; i++) {
            long v = 0;
            if (i < parts.length) {
                try {
                    v = Long.parseLong(parts[i]);
                } catch (NumberFormatException e) {
                    v = 0;
                }
            }
            key = key * 10_000 + Math.min(v, 9_999);
        }
        return key;
    }

    /**
     * Tries each candidate (a soname for the system loader, or a file path) and binds the first that
     * loads and has every function. Package-private for tests.
     */
    static Probe search(List<String> candidates) {
        List<String> tried = new ArrayList<>();
        for (String candidate : candidates) {
            boolean isPath = candidate.indexOf('/') >= 0;
            if (isPath && !Files.isRegularFile(Path.of(candidate))) {
                tried.add(candidate + " (no such file)");
                continue;
            }
            SymbolLookup lookup;
            try {
                lookup = isPath ? SymbolLookup.libraryLookup(Path.of(candidate), Arena.global())
                                : SymbolLookup.libraryLookup(candidate, Arena.global());
            } catch (RuntimeException e) {
                tried.add(candidate + " (" + (isPath ? "cannot load" : "not found by the system loader") + ")");
                continue;
            }
            try {
                CudaRuntime runtime = new CudaRuntime(candidate, lookup);
                tried.add(candidate + " (loaded)");
                return new Probe(Optional.of(runtime), tried, "");
            } catch (RuntimeException e) {
                tried.add(candidate + " (" + e.getMessage() + ")");
            }
        }
        return new Probe(Optional.empty(), tried, candidates.isEmpty() ? "nowhere to look" : "libcudart not found");
    }

    private final String library;
    private final MethodHandle getDeviceCount;
    private final MethodHandle deviceGetAttribute;
    private final MethodHandle getDeviceProperties;
    private final MethodHandle setDevice;
    private final MethodHandle memGetInfo;
    private final MethodHandle driverGetVersion;
    private final MethodHandle runtimeGetVersion;
    private final MethodHandle hostAlloc;
    private final MethodHandle freeHost;
    private final MethodHandle getErrorString;

    private CudaRuntime(String library, SymbolLookup lookup) {
        this.library = library;
        Linker linker = Linker.nativeLinker();
        ValueLayout ptr = ValueLayout.ADDRESS;
        ValueLayout i32 = ValueLayout.JAVA_INT;
        getDeviceCount = bind(linker, lookup, "cudaGetDeviceCount", FunctionDescriptor.of(i32, ptr));
        deviceGetAttribute = bind(linker, lookup, "cudaDeviceGetAttribute", FunctionDescriptor.of(i32, ptr, i32, i32));
        // CUDA 12 renamed it (the header maps the old name to _v2); CUDA 13 exports the plain name again.
        MethodHandle props = optional(linker, lookup, "cudaGetDeviceProperties_v2", FunctionDescriptor.of(i32, ptr, i32));
        getDeviceProperties = props != null ? props : bind(linker, lookup, "cudaGetDeviceProperties", FunctionDescriptor.of(i32, ptr, i32));
        setDevice = bind(linker, lookup, "cudaSetDevice", FunctionDescriptor.of(i32, i32));
        memGetInfo = bind(linker, lookup, "cudaMemGetInfo", FunctionDescriptor.of(i32, ptr, ptr));
        driverGetVersion = bind(linker, lookup, "cudaDriverGetVersion", FunctionDescriptor.of(i32, ptr));
        runtimeGetVersion = bind(linker, lookup, "cudaRuntimeGetVersion", FunctionDescriptor.of(i32, ptr));
        hostAlloc = bind(linker, lookup, "cudaHostAlloc", FunctionDescriptor.of(i32, ptr, ValueLayout.JAVA_LONG, i32));
        freeHost = bind(linker, lookup, "cudaFreeHost", FunctionDescriptor.of(i32, ptr));
        getErrorString = bind(linker, lookup, "cudaGetErrorString", FunctionDescriptor.of(ptr, i32));
    }

    private static MethodHandle bind(Linker linker, SymbolLookup lookup, String name, FunctionDescriptor fd) {
        MethodHandle h = optional(linker, lookup, name, fd);
        if (h == null) throw new IllegalStateException("has no " + name);
        return h;
    }

    private static MethodHandle optional(Linker linker, SymbolLookup lookup, String name, FunctionDescriptor fd) {
        return lookup.find(name).map(s -> linker.downcallHandle(s, fd)).orElse(null);
    }

    /** The soname or file the runtime was loaded from. */
    public String library() {
        return library;
    }

    /** The runtime's version as CUDA encodes it (1000 * major + 10 * minor, e.g. 13000). */
    public int runtimeVersion() {
        return intOut(runtimeGetVersion, "cudaRuntimeGetVersion");
    }

    /** The newest CUDA version the installed driver supports (same encoding); 0 without a driver. */
    public int driverVersion() {
        return intOut(driverGetVersion, "cudaDriverGetVersion");
    }

    /** "13.0" for 13000. */
    public static String versionString(int encoded) {
        return encoded <= 0 ? "none" : (encoded / 1000) + "." + (encoded % 1000) / 10;
    }

    /** Devices the runtime can use; 0 when there are none or no driver (see {@link #deviceStatus()}). */
    public int deviceCount() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment n = arena.allocate(ValueLayout.JAVA_INT);
            int status = (int) getDeviceCount.invokeExact(n);
            return status == 0 ? n.get(ValueLayout.JAVA_INT, 0) : 0;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** "ok", or the runtime's words for why {@code cudaGetDeviceCount} failed (e.g. no driver). */
    public String deviceStatus() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment n = arena.allocate(ValueLayout.JAVA_INT);
            int status = (int) getDeviceCount.invokeExact(n);
            return status == 0 ? "ok" : errorString(status);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Every device: name, compute capability and multiprocessor count. */
    public List<Device> devices() {
        int count = deviceCount();
        List<Device> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) out.add(device(i));
        return List.copyOf(out);
    }

    public Device device(int ordinal) {
        return new Device(ordinal, name(ordinal), attribute(ATTR_CC_MAJOR, ordinal), attribute(ATTR_CC_MINOR, ordinal),
                attribute(ATTR_MULTIPROCESSORS, ordinal));
    }

    private String name(int ordinal) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment props = arena.allocate(PROPS_BUFFER, 16);
            int status = (int) getDeviceProperties.invokeExact(props, ordinal);
            check(status, "cudaGetDeviceProperties");
            return props.asSlice(0, 256).getString(0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private int attribute(int attribute, int ordinal) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment v = arena.allocate(ValueLayout.JAVA_INT);
            int status = (int) deviceGetAttribute.invokeExact(v, attribute, ordinal);
            check(status, "cudaDeviceGetAttribute");
            return v.get(ValueLayout.JAVA_INT, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * Free and total memory of a device. This makes {@code ordinal} the calling thread's current
     * device and creates its primary context (a few hundred MiB of device memory, once per process),
     * the context that libember's ggml uses too.
     */
    public MemoryInfo memoryInfo(int ordinal) {
        try (Arena arena = Arena.ofConfined()) {
            check((int) setDevice.invokeExact(ordinal), "cudaSetDevice");
            MemorySegment free = arena.allocate(ValueLayout.JAVA_LONG), total = arena.allocate(ValueLayout.JAVA_LONG);
            check((int) memGetInfo.invokeExact(free, total), "cudaMemGetInfo");
            return new MemoryInfo(free.get(ValueLayout.JAVA_LONG, 0), total.get(ValueLayout.JAVA_LONG, 0));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * Page-locked host memory (cudaHostAlloc, portable to every context), which the GPU reads and
     * writes by DMA without a staging copy. Throws {@link IllegalStateException} when the runtime
     * refuses (no driver, no memory); {@link HostBuffer#allocate} falls back to ordinary memory then.
     */
    MemorySegment hostAlloc(long bytes) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            check((int) hostAlloc.invokeExact(out, bytes, HOST_ALLOC_PORTABLE), "cudaHostAlloc(" + bytes + ")");
            return out.get(ValueLayout.ADDRESS, 0);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    void freeHost(MemorySegment pointer) {
        try {
            int status = (int) freeHost.invokeExact(pointer);
            check(status, "cudaFreeHost");
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static int intOut(MethodHandle h, String what) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment v = arena.allocate(ValueLayout.JAVA_INT);
            int status = (int) h.invokeExact(v);
            return status == 0 ? v.get(ValueLayout.JAVA_INT, 0) : 0;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private String errorString(int status) {
        try {
            MemorySegment s = (MemorySegment) getErrorString.invokeExact(status);
            return s.equals(MemorySegment.NULL) ? "CUDA error " + status : s.reinterpret(1024).getString(0) + " (" + status + ")";
        } catch (Throwable t) {
            return "CUDA error " + status;
        }
    }

    private void check(int status, String what) {
        if (status != 0) throw new IllegalStateException(what + " failed: " + errorString(status));
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) return r;
        if (t instanceof Error e) throw e;
        return new IllegalStateException(t);
    }

    @Override
    public String toString() {
        return "CudaRuntime[" + library + ", runtime " + versionString(runtimeVersion()) + ", driver " + versionString(driverVersion()) + "]";
    }
}
