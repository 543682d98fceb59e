package dev.ember.engine.pipeline;

import dev.ember.engine.gpu.HostBuffer;
import dev.ember.engine.nn.Unet;
import dev.ember.engine.sampling.NetworkFunction;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The UNet with classifier-free guidance, as one network function: the conditional and unconditional
 * passes run as one batch of two (one graph, weights read once), then
 * {@code out = uncond + scale * (cond - uncond)}. With scale 1 only the conditional pass runs.
 *
 * <p>The native input and output buffers are made once per image and reused by every step; the text
 * context is copied into them once. On a CUDA device they are pinned host memory ({@link HostBuffer}).
 * {@link #close()} frees them. The UNet is called through a {@link UnetCall}: the network itself, or a
 * {@link UnetBatcher.Seat} that runs these rows together with other generations'.
 */
final class GuidedUnet implements NetworkFunction, AutoCloseable {
    private final Unet unet;
    private final UnetCall call;
    private final float[] context;     // [cond, uncond] or [cond], each [tokens, hidden]
    private final int contextTokens;
    private final double scale;
    private final int height;
    private final int width;
    private final int batch;
    private HostBuffer latentIn;
    private HostBuffer timesteps;
    private HostBuffer textContext;
    private HostBuffer out;
    /** Input channels every row gets after the latent (an inpainting model's mask and masked image), or empty. */
    private float[] appended = new float[0];

    GuidedUnet(Unet unet, UnetCall call, float[] context, int contextTokens, double scale, int height, int width) {
        this.unet = unet;
        this.call = call;
        this.context = context;
        this.contextTokens = contextTokens;
        this.scale = scale;
        this.height = height;
        this.width = width;
        this.batch = scale == 1 ? 1 : 2;
    }

    /** Appends {@code channels} ([k, height, width], the same for every row and step) to the latent of each row (null: none). */
    void appendChannels(float[] channels) {
        if (latentIn != null) throw new IllegalStateException("channels must be appended before the first call");
        appended = channels == null ? new float[0] : channels;
    }

    private void allocate(int n) {
        boolean pin = unet.context().onCuda();
        long row = n + appended.length;
        latentIn = HostBuffer.allocate(batch * row * Float.BYTES, pin);
        for (int b = 0; b < batch; b++) {
            MemorySegment.copy(appended, 0, latentIn.segment(), ValueLayout.JAVA_FLOAT, (b * row + n) * Float.BYTES, appended.length);
        }
        out = HostBuffer.allocate((long) batch * n * Float.BYTES, pin);
        timesteps = HostBuffer.allocate((long) batch * Float.BYTES, pin);
        // [cond, uncond] with guidance, [cond] without: exactly `batch` prompts (see GenerationRequest.usesGuidance).
        textContext = HostBuffer.allocate((long) context.length * Float.BYTES, pin);
        MemorySegment.copy(context, 0, textContext.segment(), ValueLayout.JAVA_FLOAT, 0, context.length);
    }

    @Override
    public float[] apply(float[] scaledInput, double timestep) {
        int n = scaledInput.length;
        if (latentIn == null) allocate(n);
        MemorySegment x = latentIn.segment(), t = timesteps.segment(), o = out.segment();
        for (int b = 0; b < batch; b++) {
            MemorySegment.copy(scaledInput, 0, x, ValueLayout.JAVA_FLOAT, (long) b * (n + appended.length) * Float.BYTES, n);
            t.setAtIndex(ValueLayout.JAVA_FLOAT, b, (float) timestep);
        }
        call.forward(x, batch, height, width, t, textContext.segment(), contextTokens, o);
        float[] result = new float[n];
        if (batch == 1) {
            MemorySegment.copy(o, ValueLayout.JAVA_FLOAT, 0, result, 0, n);
            return result;
        }
        long uncondOffset = (long) n * Float.BYTES;
        for (int i = 0; i < n; i++) {
            float cond = o.getAtIndex(ValueLayout.JAVA_FLOAT, i);
            float uncond = o.get(ValueLayout.JAVA_FLOAT, uncondOffset + (long) i * Float.BYTES);
            result[i] = (float) (uncond + scale * (cond - uncond));
        }
        return result;
    }

    @Override
    public void close() {
        for (HostBuffer b : new HostBuffer[] {latentIn, timesteps, textContext, out}) {
            if (b != null) b.close();
        }
    }
}
