package dev.ember.cli;

import dev.ember.engine.DeviceInfo;
import dev.ember.engine.Ember;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code ember devices}: the ggml backend devices this build can use. */
@Command(name = "devices", mixinStandardHelpOptions = true, description = "List the compute devices (CPU, GPUs) and their memory.")
final class DevicesCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        out.printf("%-6s %-8s %-6s %12s %12s  %s%n", "INDEX", "NAME", "TYPE", "FREE", "TOTAL", "DESCRIPTION");
        for (DeviceInfo d : Ember.devices()) {
            String device = d.type() == DeviceInfo.Type.CPU ? "cpu" : d.name().toLowerCase(java.util.Locale.ROOT);
            out.printf("%-6d %-8s %-6s %12s %12s  %s (--device %s)%n", d.index(), d.name(), d.type(),
                    gib(d.memoryFree()), gib(d.memoryTotal()), d.description(), device);
        }
        out.flush();
        return 0;
    }

    static String gib(long bytes) {
        return String.format(java.util.Locale.ROOT, "%.1f GiB", bytes / (1024.0 * 1024 * 1024));
    }
}
