package dev.ember.cli;

import dev.ember.engine.CpuKernels;
import dev.ember.engine.Ember;
import dev.ember.engine.EmberException;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The top-level {@code ember} command. Subcommands are registered in {@link #commandLine()}.
 *
 * <p>Exit codes: 0 success, 1 bad input or a failure that names its cause, 2 bad usage.
 */
@Command(name = "ember", mixinStandardHelpOptions = true, versionProvider = EmberCommand.Version.class,
        description = "Stable Diffusion on the JVM, on a ggml engine.",
        footer = {"", "ember batch (a picture for every row of a prompts table, on Apache Spark) comes with the spark module: "
                + "scripts/build.sh -Pspark, then ./ember batch --help (docs/spark.md)."},
        subcommands = {Txt2ImgCommand.class, Img2ImgCommand.class, InpaintCommand.class, DemoCommand.class, InfoCommand.class, DevicesCommand.class,
                MakeModelCommand.class, ModelCommand.class, BenchCommand.class, ServeCommand.class, BenchServeCommand.class})
public final class EmberCommand implements Callable<Integer> {
    @Option(names = "--verbose", description = "Print stack traces of errors.", scope = CommandLine.ScopeType.INHERIT)
    boolean verbose;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getOut());
        return 0;
    }

    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new EmberCommand());
        cl.setExecutionExceptionHandler(EmberCommand::handleError);
        // The last of a repeated option wins, as in most tools: scripts and aliases can append overrides.
        cl.setOverwrittenOptionsAllowed(true);
        cl.setParameterExceptionHandler((ex, args) -> {
            PrintWriter err = ex.getCommandLine().getErr();
            err.println("ember: " + ex.getMessage());
            ex.getCommandLine().usage(err);
            return 2;
        });
        return cl;
    }

    /**
     * Errors that name their cause print one line (control characters escaped: messages may quote prompts,
     * paths and metadata) and exit 1; the stack trace only with --verbose.
     */
    private static int handleError(Exception ex, CommandLine cl, CommandLine.ParseResult parseResult) {
        PrintWriter err = cl.getErr();
        boolean verbose = parseResult != null && isVerbose(parseResult);
        if (ex instanceof UsageException) {
            err.println("ember: " + Terminal.safe(ex.getMessage()));
            return 2;
        }
        String message = ex.getMessage() == null ? ex.getClass().getSimpleName() : ex.getMessage();
        if (ex instanceof java.io.IOException io) {
            err.println("ember: " + Terminal.safe(FileErrors.describe(io)));
        } else if (ex instanceof java.io.UncheckedIOException u && u.getCause() != null && message.equals(u.getCause().toString())) {
            err.println("ember: " + Terminal.safe(FileErrors.describe(u.getCause())));
        } else if (ex instanceof EmberException || ex instanceof IllegalArgumentException || ex instanceof java.io.UncheckedIOException) {
            err.println("ember: " + Terminal.safe(message));
        } else {
            err.println("ember: unexpected error: " + Terminal.safe(ex.toString()));
        }
        if (verbose) ex.printStackTrace(err);
        err.flush();
        return 1;
    }

    private static boolean isVerbose(CommandLine.ParseResult result) {
        for (CommandLine.ParseResult r = result; r != null; r = r.subcommand()) {
            if (r.hasMatchedOption("--verbose")) return true;
        }
        return false;
    }

    /** Thrown by commands for bad usage found after parsing (exit code 2). */
    public static final class UsageException extends RuntimeException {
        public UsageException(String message) {
            super(message);
        }
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            CpuKernels cpu = Ember.cpuKernels();
            return new String[] {"ember " + Ember.version(), "ggml " + Ember.ggmlVersion(), "libember " + Ember.libraryPath(),
                "CPU kernels " + cpu.variant() + " (" + cpu.how() + ")"};
        }
    }
}
