package dev.ember.engine.pipeline;

import java.lang.foreign.MemorySegment;

/**
 * One evaluation of the UNet on a batch of rows, laid out as {@link dev.ember.engine.nn.Unet#forward(MemorySegment,
 * int, int, int, MemorySegment, MemorySegment, int, MemorySegment, MemorySegment) Unet.forward} takes them
 * ({@code vector}: SDXL's vector conditioning per row, null for SD 1.x/2.x). {@code Unet::forward}
 * is one; a {@link UnetBatcher.Seat} is another, which runs the rows together with those of other generations.
 */
@FunctionalInterface
public interface UnetCall {
    void forward(MemorySegment latent, int batch, int height, int width, MemorySegment timesteps, MemorySegment textContext,
                 int contextTokens, MemorySegment vector, MemorySegment out);
}
