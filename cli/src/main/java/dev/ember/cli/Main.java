package dev.ember.cli;

import picocli.CommandLine;

/** Entry point of the {@code ember} command. */
public final class Main {
    private Main() {}

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the command line and returns the exit code (tests call this rather than main). */
    public static int run(String... args) {
        return EmberCommand.commandLine().execute(args);
    }
}
