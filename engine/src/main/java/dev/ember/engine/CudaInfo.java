package dev.ember.engine;

import dev.ember.engine.gpu.CudaRuntime;
import java.util.List;
import java.util.Optional;

/**
 * What the CUDA runtime says about this machine, next to ggml's device list ({@link Ember#devices()}):
 * versions, and each GPU's compute capability and multiprocessors. A snapshot; never an error when there is
 * no CUDA (then {@link #present()} is false and {@link #describe()} says where it looked).
 *
 * @param present       whether a CUDA runtime library was found
 * @param library       the runtime library's path (empty when absent)
 * @param runtimeVersion the runtime's version, e.g. {@code 12.4} (empty when absent)
 * @param driverVersion the driver's CUDA version (empty when absent)
 * @param deviceStatus  "ok", or the runtime's words for why it lists no device (empty when absent)
 * @param gpus          the devices the runtime lists, by ordinal
 * @param description   one line: where the runtime was found, or why not and where it looked
 */
public record CudaInfo(boolean present, String library, String runtimeVersion, String driverVersion, String deviceStatus,
                       List<Gpu> gpus, String description) {
    public CudaInfo {
        gpus = List.copyOf(gpus);
    }

    /** One device as the CUDA runtime describes it; {@code ordinal} matches ggml's {@code CUDA<ordinal>}. */
    public record Gpu(int ordinal, String name, String computeCapability, int multiprocessors) {}

    /** The one-line description: the runtime's path, or why there is none and where Ember looked. */
    public String describe() {
        return description;
    }

    /** The device of that CUDA ordinal, if the runtime lists it. */
    public Optional<Gpu> gpu(int ordinal) {
        return gpus.stream().filter(g -> g.ordinal() == ordinal).findFirst();
    }

    /** Looks once per JVM (the runtime is probed lazily); a runtime that cannot list its devices lists none. */
    static CudaInfo probe() {
        CudaRuntime.Probe probe = CudaRuntime.probe();
        if (probe.runtime().isEmpty()) return new CudaInfo(false, "", "", "", "", List.of(), probe.describe());
        CudaRuntime rt = probe.runtime().get();
        List<Gpu> gpus;
        try {
            gpus = rt.devices().stream().map(d -> new Gpu(d.ordinal(), d.name(), d.computeCapability(), d.multiprocessors())).toList();
        } catch (RuntimeException e) {
            gpus = List.of();
        }
        return new CudaInfo(true, rt.library(), CudaRuntime.versionString(rt.runtimeVersion()), CudaRuntime.versionString(rt.driverVersion()),
                rt.deviceStatus(), gpus, probe.describe());
    }
}
