package dev.ember.cli;

import dev.ember.engine.DeviceInfo;
import dev.ember.engine.Ember;
import dev.ember.engine.gpu.CudaRuntime;
import java.io.PrintWriter;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code ember devices}: the ggml backend devices this build can use. */
@Command(name = "devices", mixinStandardHelpOptions = true, description = "List the compute devices (CPU, GPUs) and their memory.")
final class DevicesCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** Its inherited {@code --verbose} also says where the CUDA runtime was looked for when none is found. */
    @CommandLine.ParentCommand
    EmberCommand parent;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        CudaRuntime.Probe cuda = CudaRuntime.probe();
        Map<Integer, CudaRuntime.Device> cudaDevices = cudaDevices(cuda);
        out.printf("%-6s %-8s %-6s %12s %12s  %s%n", "INDEX", "NAME", "TYPE", "FREE", "TOTAL", "DESCRIPTION");
        for (DeviceInfo d : Ember.devices()) {
            if (d.type() == DeviceInfo.Type.ACCEL) {
                // ggml lists BLAS as an accelerator: it only helps the CPU device, it is not one to pick.
                out.printf("%-6s %-8s %-6s %12s %12s  %s (helps the CPU device; --blas)%n", "-", d.name(), d.type(), "-", "-", d.description());
                continue;
            }
            String device = d.type() == DeviceInfo.Type.CPU ? "cpu" : d.name().toLowerCase(Locale.ROOT).replaceFirst("(\\d+)$", ":$1");
            String extra = "";
            Matcher m = CUDA_NAME.matcher(d.name());
            if (m.matches() && cudaDevices.containsKey(Integer.parseInt(m.group(1)))) {
                CudaRuntime.Device c = cudaDevices.get(Integer.parseInt(m.group(1)));
                extra = ", compute " + c.computeCapability() + ", " + c.multiprocessors() + " SMs";
            }
            out.printf("%-6d %-8s %-6s %12s %12s  %s%s (--device %s)%n", d.index(), d.name(), d.type(),
                    gib(d.memoryFree()), gib(d.memoryTotal()), d.description(), extra, device);
        }
        boolean verbose = parent != null && parent.verbose;
        if (cuda.present() && (verbose || !cudaDevices.isEmpty())) {
            CudaRuntime rt = cuda.runtime().orElseThrow();
            out.printf("CUDA: runtime %s, driver %s, %d device(s)%s (%s)%n", CudaRuntime.versionString(rt.runtimeVersion()),
                    CudaRuntime.versionString(rt.driverVersion()), rt.deviceCount(),
                    rt.deviceCount() == 0 ? ": " + rt.deviceStatus() : "", rt.library());
        } else if (!cuda.present() && verbose) {
            out.println(cuda.describe());
        }
        out.flush();
        return 0;
    }

    private static final Pattern CUDA_NAME = Pattern.compile("CUDA(\\d+)");

    /** The runtime's view of each CUDA device by ordinal; empty (never an error) without CUDA. */
    private static Map<Integer, CudaRuntime.Device> cudaDevices(CudaRuntime.Probe cuda) {
        Map<Integer, CudaRuntime.Device> out = new HashMap<>();
        try {
            cuda.runtime().ifPresent(rt -> rt.devices().forEach(d -> out.put(d.ordinal(), d)));
        } catch (RuntimeException e) {
            // a runtime that cannot describe its devices adds nothing to ggml's list
        }
        return out;
    }

    static String gib(long bytes) {
        return String.format(java.util.Locale.ROOT, "%.1f GiB", bytes / (1024.0 * 1024 * 1024));
    }
}
