package dev.ember.cli;

/** Entry point of the {@code ember} command. */
public final class Main {
    private Main() {}

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /**
     * Runs the command line and returns the exit code (tests call this rather than main). A libember that
     * cannot be loaded is reported by its message (which lists every place tried), not a stack trace.
     */
    public static int run(String... args) {
        try {
            return EmberCommand.commandLine().execute(args);
        } catch (LinkageError e) {
            Throwable cause = e instanceof ExceptionInInitializerError && e.getCause() != null ? e.getCause() : e;
            System.err.println("ember: " + Terminal.safeLines(String.valueOf(cause.getMessage())));
            if (java.util.Arrays.asList(args).contains("--verbose")) e.printStackTrace();
            return 1;
        }
    }
}
