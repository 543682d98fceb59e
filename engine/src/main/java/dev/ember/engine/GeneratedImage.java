package dev.ember.engine;

import dev.ember.engine.image.RgbImage;

/**
 * One picture of a generation.
 *
 * @param index   position in the request's batch
 * @param seed    the seed that made it ({@code request.imageSeed(index)})
 * @param image   the pixels
 * @param request the request it came from
 */
public record GeneratedImage(int index, long seed, RgbImage image, GenerationRequest request) {}
