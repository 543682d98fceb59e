package dev.ember.engine.pipeline;

import dev.ember.engine.gpu.HostBuffer;
import dev.ember.engine.nn.Unet;
import dev.ember.engine.sampling.NetworkFunction;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * The UNet with classifier-free guidance, as one network function:
 * {@code out = uncond + scale * (cond - uncond)}. With scale 1 there is no unconditional prompt and
 * only the conditional pass runs (one latent per step, half the work). When both prompts have the
 * same context length they run as one batch of two (one graph, weights read once); prompts of
 * different lengths (a long prompt split into more 77-token chunks than its negative) run as two
 * batch-one passes, each with its own context, as AUTOMATIC1111 does by default.
 *
 * <p>SDXL's vector conditioning (pooled text and sizes) goes with each pass. The native buffers are
 * made once per image and reused by every step; contexts and vectors are copied into them once. On a
 * CUDA device they are pinned host memory ({@link HostBuffer}). {@link #close()} frees them. The UNet is
 * called through a {@link UnetCall}: the network itself, or a {@link UnetBatcher.Seat} that runs these rows
 * together with other generations' (only when cond and uncond run as one batch).
 */
final class GuidedUnet implements NetworkFunction, AutoCloseable {
    private final Unet unet;
    private final UnetCall call;
    private final Conditioning cond;
    private final Conditioning uncond;      // null without guidance
    private final double scale;
    private final int height;
    private final int width;
    private final boolean batched;    // cond and uncond in one batch of two
    private HostBuffer latentIn;
    private HostBuffer timesteps;
    private HostBuffer out;
    private HostBuffer[] contexts;    // one per pass
    private HostBuffer[] vectors;     // one per pass, null entries without vector conditioning
    /** Input channels every row gets after the latent (an inpainting model's mask and masked image), or empty. */
    private float[] appended = new float[0];

    GuidedUnet(Unet unet, UnetCall call, Conditioning cond, Conditioning uncond, double scale, int height, int width) {
        if ((scale == 1) != (uncond == null)) throw new IllegalArgumentException("an unconditional prompt goes with guidance, and only then");
        this.unet = unet;
        this.call = call;
        this.cond = cond;
        this.uncond = uncond;
        this.scale = scale;
        this.height = height;
        this.width = width;
        this.batched = uncond != null && Conditioning.oneBatch(cond, uncond);
    }

    /** Appends {@code channels} ([k, height, width], the same for every row and step) to the latent of each row (null: none). */
    void appendChannels(float[] channels) {
        if (latentIn != null) throw new IllegalStateException("channels must be appended before the first call");
        appended = channels == null ? new float[0] : channels;
    }

    private void allocate(int n) {
        boolean pin = unet.context().onCuda();
        int batch = batched ? 2 : 1;
        long row = n + appended.length;
        latentIn = HostBuffer.allocate(batch * row * Float.BYTES, pin);
        for (int b = 0; b < batch; b++) {
            MemorySegment.copy(appended, 0, latentIn.segment(), ValueLayout.JAVA_FLOAT, (b * row + n) * Float.BYTES, appended.length);
        }
        out = HostBuffer.allocate((long) (uncond == null ? 1 : 2) * n * Float.BYTES, pin);
        timesteps = HostBuffer.allocate((long) batch * Float.BYTES, pin);
        Conditioning[][] passes = passes();
        contexts = new HostBuffer[passes.length];
        vectors = new HostBuffer[passes.length];
        for (int p = 0; p < passes.length; p++) {
            contexts[p] = filled(pin, Arrays.stream(passes[p]).map(Conditioning::context).toArray(float[][]::new));
            if (cond.vector() != null) vectors[p] = filled(pin, Arrays.stream(passes[p]).map(Conditioning::vector).toArray(float[][]::new));
        }
    }

    /** The prompts of each UNet call: [cond, uncond] as one batch, or [cond] then [uncond], or [cond] alone. */
    private Conditioning[][] passes() {
        if (uncond == null) return new Conditioning[][] {{cond}};
        return batched ? new Conditioning[][] {{cond, uncond}} : new Conditioning[][] {{cond}, {uncond}};
    }

    private static HostBuffer filled(boolean pin, float[]... parts) {
        long total = 0;
        for (float[] p : parts) total += p.length;
        HostBuffer b = HostBuffer.allocate(total * Float.BYTES, pin);
        long offset = 0;
        for (float[] p : parts) {
            MemorySegment.copy(p, 0, b.segment(), ValueLayout.JAVA_FLOAT, offset * Float.BYTES, p.length);
            offset += p.length;
        }
        return b;
    }

    @Override
    public float[] apply(float[] scaledInput, double timestep) {
        int n = scaledInput.length;
        if (latentIn == null) allocate(n);
        Conditioning[][] passes = passes();
        MemorySegment x = latentIn.segment(), t = timesteps.segment(), o = out.segment();
        long row = n + appended.length;
        for (int p = 0; p < passes.length; p++) {
            int batch = passes[p].length;
            for (int b = 0; b < batch; b++) {
                MemorySegment.copy(scaledInput, 0, x, ValueLayout.JAVA_FLOAT, b * row * Float.BYTES, n);
                t.setAtIndex(ValueLayout.JAVA_FLOAT, b, (float) timestep);
            }
            // Pass p writes its outputs after those of the passes before it: cond first, then uncond.
            MemorySegment target = o.asSlice((long) p * n * Float.BYTES, (long) batch * n * Float.BYTES);
            call.forward(x.asSlice(0, batch * row * Float.BYTES), batch, height, width, t.asSlice(0, (long) batch * Float.BYTES),
                    contexts[p].segment(), passes[p][0].tokens(), vectors[p] == null ? null : vectors[p].segment(), target);
        }
        float[] result = new float[n];
        if (uncond == null) {
            MemorySegment.copy(o, ValueLayout.JAVA_FLOAT, 0, result, 0, n);
            return result;
        }
        long uncondOffset = (long) n * Float.BYTES;
        for (int i = 0; i < n; i++) {
            float c = o.getAtIndex(ValueLayout.JAVA_FLOAT, i);
            float u = o.get(ValueLayout.JAVA_FLOAT, uncondOffset + (long) i * Float.BYTES);
            result[i] = (float) (u + scale * (c - u));
        }
        return result;
    }

    @Override
    public void close() {
        for (HostBuffer b : new HostBuffer[] {latentIn, timesteps, out}) {
            if (b != null) b.close();
        }
        for (HostBuffer[] group : new HostBuffer[][] {contexts, vectors}) {
            if (group == null) continue;
            for (HostBuffer b : group) if (b != null) b.close();
        }
    }
}
