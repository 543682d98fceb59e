package dev.ember.engine;

import java.time.Duration;
import java.util.List;

/**
 * What {@code generate} returns.
 *
 * @param images     one per requested image, in order
 * @param stepsRun   sampling steps run per image
 * @param elapsed    wall time of the whole call
 */
public record GenerationResult(List<GeneratedImage> images, int stepsRun, Duration elapsed) {
    public GenerationResult {
        images = List.copyOf(images);
    }
}
