package dev.ember.cli;

/**
 * img2img's "how many steps run from the image": with strength s, the engine runs {@code int(total * s)}
 * of {@code total} steps, so {@code N} steps from the image need {@code total = ceil(N / s)}
 * (InvokeAI's guide: 20 steps at strength 0.4 need 50).
 *
 * <p>Floating point makes the naive formula miss both ways: 21 / 0.7 is 30.000000000000004, whose
 * ceiling 31 runs int(21.7) = 21 steps but is one step more than needed (30 * 0.7 = 21.0); and
 * 29 / 0.29 is exactly 100.0 while int(100 * 0.29) = int(28.999999999999996) = 28. So the estimate is
 * taken with a small epsilon and then corrected against the very expression the engine uses until it
 * gives exactly N. (The brief's 7 / 0.7 happens to be exactly 10.0 in doubles.)
 */
final class StepsFromImage {
    private static final double EPSILON = 1e-9;

    private StepsFromImage() {}

    /**
     * The smallest total whose {@code int(total * strength)} is {@code stepsFromImage}.
     *
     * @throws IllegalArgumentException when strength is not in (0, 1] or N is not positive
     */
    static int totalSteps(int stepsFromImage, double strength) {
        if (stepsFromImage < 1) throw new IllegalArgumentException("--steps-from-image must be at least 1, got " + stepsFromImage);
        if (!(strength > 0 && strength <= 1)) {
            throw new IllegalArgumentException("--steps-from-image needs a strength above 0 and at most 1, got " + strength);
        }
        long total = (long) Math.ceil(stepsFromImage / strength - EPSILON);
        while (run(total, strength) < stepsFromImage) total++;
        while (total > 1 && run(total - 1, strength) >= stepsFromImage) total--;
        if (run(total, strength) != stepsFromImage || total > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("no step count runs exactly " + stepsFromImage + " steps at strength " + strength);
        }
        return (int) total;
    }

    /** The engine's rule, {@code GenerationRequest.stepsToRun}: Python's int(steps * strength). */
    static long run(long total, double strength) {
        return (long) (total * strength);
    }
}
