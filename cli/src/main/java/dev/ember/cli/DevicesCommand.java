package dev.ember.cli;

import dev.ember.engine.DeviceInfo;
import dev.ember.engine.Ember;
import dev.ember.engine.CudaInfo;
import java.io.PrintWriter;
import java.util.Locale;
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
        CudaInfo cuda = Ember.cuda();
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
            if (m.matches()) {
                extra = cuda.gpu(Integer.parseInt(m.group(1)))
                        .map(c -> ", compute " + c.computeCapability() + ", " + c.multiprocessors() + " SMs").orElse("");
            }
            out.printf("%-6d %-8s %-6s %12s %12s  %s%s (--device %s)%n", d.index(), d.name(), d.type(),
                    gib(d.memoryFree()), gib(d.memoryTotal()), d.description(), extra, device);
        }
        boolean verbose = parent != null && parent.verbose;
        if (cuda.present() && (verbose || !cuda.gpus().isEmpty())) {
            out.printf("CUDA: runtime %s, driver %s, %d device(s)%s (%s)%n", cuda.runtimeVersion(), cuda.driverVersion(), cuda.gpus().size(),
                    cuda.gpus().isEmpty() ? ": " + cuda.deviceStatus() : "", cuda.library());
        } else if (!cuda.present() && verbose) {
            out.println(cuda.describe());
        }
        out.flush();
        return 0;
    }

    private static final Pattern CUDA_NAME = Pattern.compile("CUDA(\\d+)");

    static String gib(long bytes) {
        return String.format(java.util.Locale.ROOT, "%.1f GiB", bytes / (1024.0 * 1024 * 1024));
    }
}
