package dev.ember.engine;

import dev.ember.bindings.NativeLibrary;
import dev.ember.bindings.ember_device_info;
import dev.ember.bindings.ember_h;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/** Facts about the native library: versions and devices. */
public final class Ember {
    private Ember() {}

    /** Ember's version, as libember reports it. */
    public static String version() {
        return ember_h.ember_version().getString(0);
    }

    /** The version and commit of the ggml that libember was built with. */
    public static String ggmlVersion() {
        return ember_h.ember_ggml_version().getString(0);
    }

    /** Where libember was loaded from. */
    public static String libraryPath() {
        return NativeLibrary.loadedFrom();
    }

    /** The CPU variant of libember in use here and how it was chosen. */
    public static CpuKernels cpuKernels() {
        return CpuKernels.of(ember_h.ember_cpu_variant().getString(0), NativeLibrary.cpuVariantChoice().orElse(null));
    }

    /**
     * Times every CPU variant this machine can run again and remembers the fastest for the runs that follow
     * (this process keeps the one it loaded).
     *
     * @param threads threads to measure with, 0 = all cores
     * @throws IllegalStateException when libember was not loaded from a set of CPU variants
     */
    public static CpuKernels calibrateCpuKernels(int threads) {
        ember_h.ember_version();  // loads the library (and makes the first choice) before measuring again
        return CpuKernels.of(null, NativeLibrary.recalibrate(threads));
    }

    /** The CUDA runtime's view of this machine (versions, compute capabilities); absent without CUDA. */
    public static CudaInfo cuda() {
        return CudaInfo.probe();
    }

    /** Every ggml backend device, the CPU first. */
    public static List<DeviceInfo> devices() {
        int count = ember_h.ember_device_count();
        List<DeviceInfo> out = new ArrayList<>(count);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment info = ember_device_info.allocate(arena);
            for (int i = 0; i < count; i++) {
                int status = ember_h.ember_device_get_info(i, info);
                if (status != ember_h.EMBER_OK()) throw new NativeException(status, "ember_device_get_info(" + i + ")", null);
                DeviceInfo.Type type = switch (ember_device_info.type(info)) {
                    case 0 -> DeviceInfo.Type.CPU;
                    case 1 -> DeviceInfo.Type.GPU;
                    case 2 -> DeviceInfo.Type.IGPU;
                    default -> DeviceInfo.Type.ACCEL;
                };
                out.add(new DeviceInfo(i, ember_device_info.name(info).getString(0),
                        ember_device_info.description(info).getString(0), type,
                        ember_device_info.memory_free(info), ember_device_info.memory_total(info)));
            }
        }
        return List.copyOf(out);
    }
}
