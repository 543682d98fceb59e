package dev.ember.engine.pipeline;

import dev.ember.engine.GenerationCancelledException;
import dev.ember.engine.GenerationRequest;
import dev.ember.engine.StepEvent;
import dev.ember.engine.StepListener;
import dev.ember.engine.nn.Unet;
import dev.ember.engine.noise.NoiseGenerator;
import dev.ember.engine.sampling.Denoiser;
import dev.ember.engine.sampling.DiffusionSchedule;
import dev.ember.engine.sampling.KDiffusion;
import dev.ember.engine.sampling.Prediction;
import dev.ember.engine.sampling.SamplerStep;
import dev.ember.engine.sampling.StepBlend;
import dev.ember.engine.sampling.StrengthSchedule;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The denoising loop of one image, as the papers tell it:
 * <ol>
 *   <li>img2img: take the init latent from the encoded init image (its posterior's mean, or a draw
 *       from it made with the image's own noise generator, which then goes on to the next step);</li>
 *   <li>draw the image's noise from its own seed;</li>
 *   <li>txt2img: start from that noise at the first sigma of the schedule;
 *       img2img: skip the first {@code steps - int(steps * strength)} sigmas and start from the init
 *       latent plus the noise at the sigma where sampling enters;</li>
 *   <li>let the sampler walk the remaining sigmas, asking the guided UNet for a denoised estimate at
 *       each, and tell the listener about every step (step 0 being the starting latent).</li>
 * </ol>
 * One instance per image; not shared between threads.
 */
public final class Generation {
    /** The final latent (in the UNet's scaled latent space) and how many sampling steps ran. */
    public record Result(float[] latent, int stepsRun) {}

    private final Unet unet;
    private final DiffusionSchedule schedule;
    private final Prediction prediction;
    private final int channels;
    private final int latentHeight;
    private final int latentWidth;
    private Inpainting inpainting;

    public Generation(Unet unet, DiffusionSchedule schedule, Prediction prediction, int channels, int latentHeight, int latentWidth) {
        this.unet = unet;
        this.schedule = schedule;
        this.prediction = prediction;
        this.channels = channels;
        this.latentHeight = latentHeight;
        this.latentWidth = latentWidth;
    }

    /** Makes this image with inpainting's start latent, per-step mask blend and model input (null: none). */
    public Generation inpainting(Inpainting value) {
        this.inpainting = value;
        return this;
    }

    /**
     * Samples one image.
     *
     * @param cond       what the prompt conditions on
     * @param uncond     what the negative prompt conditions on when guidance is on (cfg scale != 1), else null
     * @param init       img2img's encoded init image, or null
     */
    public Result sample(GenerationRequest request, int imageIndex, long seed, Conditioning cond, Conditioning uncond, EncodedInit init,
                         StepListener listener) {
        return sample(request, imageIndex, seed, cond, uncond, init, listener, unet::forward);
    }

    /** As {@link #sample(GenerationRequest, int, long, Conditioning, Conditioning, EncodedInit, StepListener)}, calling the UNet through {@code call}. */
    public Result sample(GenerationRequest request, int imageIndex, long seed, Conditioning cond, Conditioning uncond, EncodedInit init,
                         StepListener listener, UnetCall call) {
        NoiseGenerator noise = request.noise().generator(seed);
        // diffusers' order: the posterior draw (if any) comes before the sampling noise.
        float[] initLatent = init == null ? null : init.latent(request.initLatent(), noise);
        float[] eps = noise.next(channels * latentHeight * latentWidth);
        double[] full = request.sampler().sigmas(schedule, request.steps(), request.schedule());

        double[] sigmas;
        float[] x;
        if (initLatent == null) {
            sigmas = full;
            double scale = request.sampler().initialNoiseScale(sigmas[0]);
            x = new float[eps.length];
            for (int i = 0; i < x.length; i++) x[i] = (float) (eps[i] * scale);
        } else {
            StrengthSchedule strength = StrengthSchedule.forSigmas(full, request.strength());
            sigmas = strength.sigmasToRun(full);
            x = inpainting == null ? strength.initialLatent(initLatent, eps, sigmas)
                    : strength.initialLatent(inpainting.startLatent(initLatent, eps), inpainting.startNoise(eps), sigmas);
        }
        StepBlend blend = inpainting == null ? StepBlend.NONE : inpainting.blend(initLatent, eps);
        int totalSteps = sigmas.length - 1;

        ListenerBridge bridge = new ListenerBridge(listener, imageIndex, seed, totalSteps);
        if (totalSteps == 0) {
            bridge.deliver(0, sigmas[0], x, null);
            return new Result(x, 0);
        }
        // Step 0 in the scale the sampler reports its steps in (DDIM's variance-preserving latents).
        bridge.deliver(0, sigmas[0], scaled(x, request.sampler().latentScale(sigmas[0])), null);

        try (GuidedUnet network = new GuidedUnet(unet, call, cond, uncond, request.cfgScale(), latentHeight, latentWidth)) {
            if (inpainting != null) network.appendChannels(inpainting.conditioning());
            Denoiser denoiser = KDiffusion.denoiser(network, prediction, schedule);
            float[] out = request.sampler().sample(denoiser, x, sigmas, noise, bridge::onSamplerStep, blend);
            return new Result(out, totalSteps);
        } catch (GenerationCancelledException e) {
            if (bridge.failure != null) throw new GenerationCancelledException("generation stopped: the step listener threw " + bridge.failure, bridge.failure);
            throw e;
        }
    }

    private static float[] scaled(float[] x, double scale) {
        if (scale == 1) return x;
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) out[i] = (float) (x[i] * scale);
        return out;
    }

    /** Copies each step into GC-managed segments and hands it to the listener; remembers a listener failure. */
    private final class ListenerBridge {
        private final StepListener listener;
        private final int imageIndex;
        private final long seed;
        private final int totalSteps;
        Exception failure;

        ListenerBridge(StepListener listener, int imageIndex, long seed, int totalSteps) {
            this.listener = listener;
            this.imageIndex = imageIndex;
            this.seed = seed;
            this.totalSteps = totalSteps;
        }

        /**
         * A sampler reports step k as soon as the step's latent exists (at sigma_k, before the next model
         * call), so the listener gets it at once and a cancel costs no further model call.
         */
        boolean onSamplerStep(SamplerStep step) {
            return deliver(step.step(), step.sigmaNext(), step.latent(), step.denoised());
        }

        /** True to continue. Step 0 comes before the sampler runs, so a cancel there throws directly. */
        boolean deliver(int step, double sigma, float[] latent, float[] denoised) {
            StepEvent event = new StepEvent(imageIndex, seed, step, totalSteps, sigma, sigma > 0 ? schedule.sigmaToT(sigma) : 0,
                    channels, latentHeight, latentWidth, copy(latent), denoised == null ? null : copy(denoised));
            StepListener.Action action;
            try {
                action = listener.onStep(event);
            } catch (Exception e) {
                failure = e;
                action = StepListener.Action.CANCEL;
            }
            boolean go = action != StepListener.Action.CANCEL;
            if (!go && step == 0) {
                if (failure != null) throw new GenerationCancelledException("generation stopped: the step listener threw " + failure, failure);
                throw new GenerationCancelledException("generation cancelled by the step listener before the first step");
            }
            return go;
        }

        private MemorySegment copy(float[] values) {
            MemorySegment segment = Arena.ofAuto().allocate((long) values.length * Float.BYTES, Float.BYTES);
            MemorySegment.copy(values, 0, segment, ValueLayout.JAVA_FLOAT, 0, values.length);
            return segment;
        }
    }
}
