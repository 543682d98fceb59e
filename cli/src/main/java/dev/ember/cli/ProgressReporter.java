package dev.ember.cli;

import dev.ember.engine.StepEvent;
import dev.ember.engine.StepListener;
import java.io.PrintWriter;
import java.util.Locale;

/**
 * One self-overwriting stderr line per step: {@code image 1/2  step 7/30  0.84 s/it  ETA 19s}.
 * Only for terminals (see {@link #wanted()}): in logs and pipes a carriage-return line is just noise.
 */
final class ProgressReporter implements StepListener {
    private final PrintWriter err;
    private final int images;
    private long lastNanos;
    private double secondsPerStep = Double.NaN;

    ProgressReporter(PrintWriter err, int images) {
        this.err = err;
        this.images = images;
    }

    /** Whether progress is worth printing: stdin and stdout are a terminal (Java cannot ask about stderr alone). */
    static boolean wanted() {
        java.io.Console console = System.console();
        return console != null && console.isTerminal();
    }

    @Override
    public Action onStep(StepEvent e) {
        long now = System.nanoTime();
        if (e.step() > 0) {
            double s = (now - lastNanos) / 1e9;
            // A running mean smooths out the first step's warm-up without hiding a real slowdown.
            secondsPerStep = Double.isNaN(secondsPerStep) ? s : 0.7 * secondsPerStep + 0.3 * s;
        }
        lastNanos = now;
        int left = (e.totalSteps() - e.step()) + (images - 1 - e.imageIndex()) * e.totalSteps();
        String rate = Double.isNaN(secondsPerStep) ? "  -  s/it" : String.format(Locale.ROOT, "%.2f s/it", secondsPerStep);
        String eta = Double.isNaN(secondsPerStep) ? "?" : Math.round(left * secondsPerStep) + "s";
        err.printf(Locale.ROOT, "\rimage %d/%d  step %d/%d  %s  ETA %s   ", e.imageIndex() + 1, images, e.step(), e.totalSteps(), rate, eta);
        if (e.step() == e.totalSteps()) err.println();
        err.flush();
        return Action.CONTINUE;
    }
}
