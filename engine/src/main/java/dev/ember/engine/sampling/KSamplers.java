package dev.ember.engine.sampling;

import dev.ember.engine.GenerationCancelledException;
import dev.ember.engine.noise.NoiseGenerator;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Iterator;

/**
 * One sampling run: the update rules of k-diffusion's samplers over a flat latent. The state is kept
 * in double so that a run's rounding does not depend on its step count; the model sees floats.
 */
final class KSamplers {

    private final Denoiser denoiser;
    private final double[] sigmas;
    private final StepCallback callback;
    private final int steps;
    private final StepBlend blend;
    private double[] x;

    KSamplers(Denoiser denoiser, float[] x, double[] sigmas, StepCallback callback, StepBlend blend) {
        this.denoiser = denoiser;
        this.blend = blend;
        this.sigmas = sigmas;
        this.callback = callback;
        this.steps = sigmas.length - 1;
        this.x = toDouble(x);
    }

    float[] euler() {
        for (int i = 0; i < steps; i++) {
            double s = sigmas[i], next = sigmas[i + 1];
            double[] denoised = denoise(x, s, i);
            double[] d = derivative(x, denoised, s);
            axpy(x, next - s, d);
            stepDone(i, denoised);
        }
        return toFloat(x);
    }

    float[] eulerAncestral(NoiseGenerator noise) {
        for (int i = 0; i < steps; i++) {
            double s = sigmas[i], next = sigmas[i + 1];
            double[] denoised = denoise(x, s, i);
            // get_ancestral_step with eta = 1: split the move to `next` into a deterministic part down
            // to sigmaDown and fresh noise of size sigmaUp, sigmaDown^2 + sigmaUp^2 = next^2.
            double sigmaUp = Math.min(next, Math.sqrt(next * next * (s * s - next * next) / (s * s)));
            double sigmaDown = Math.sqrt(next * next - sigmaUp * sigmaUp);
            double[] d = derivative(x, denoised, s);
            axpy(x, sigmaDown - s, d);
            if (next > 0) {
                float[] z = noise.next(x.length);
                for (int k = 0; k < x.length; k++) x[k] += z[k] * sigmaUp;
            }
            stepDone(i, denoised);
        }
        return toFloat(x);
    }

    float[] heun() {
        for (int i = 0; i < steps; i++) {
            double s = sigmas[i], next = sigmas[i + 1];
            double[] denoised = denoise(x, s, i);
            double[] d = derivative(x, denoised, s);
            double dt = next - s;
            if (next == 0) {
                axpy(x, dt, d); // the corrector would divide by sigma 0: plain Euler
            } else {
                double[] x2 = x.clone();
                axpy(x2, dt, d);
                double[] d2 = derivative(x2, evaluate(x2, next), next);
                for (int k = 0; k < x.length; k++) x[k] += (d[k] + d2[k]) / 2 * dt;
            }
            stepDone(i, denoised);
        }
        return toFloat(x);
    }

    float[] dpm2() {
        for (int i = 0; i < steps; i++) {
            double s = sigmas[i], next = sigmas[i + 1];
            double[] denoised = denoise(x, s, i);
            double[] d = derivative(x, denoised, s);
            if (next == 0) {
                axpy(x, next - s, d);
            } else {
                double mid = Math.exp((Math.log(s) + Math.log(next)) / 2);
                double[] x2 = x.clone();
                axpy(x2, mid - s, d);
                double[] d2 = derivative(x2, evaluate(x2, mid), mid);
                axpy(x, next - s, d2);
            }
            stepDone(i, denoised);
        }
        return toFloat(x);
    }

    float[] lms(int order) {
        Deque<double[]> ds = new ArrayDeque<>(order + 1); // newest first
        for (int i = 0; i < steps; i++) {
            double s = sigmas[i];
            double[] denoised = denoise(x, s, i);
            ds.addFirst(derivative(x, denoised, s));
            if (ds.size() > order) ds.removeLast();
            int currentOrder = Math.min(i + 1, order);
            Iterator<double[]> it = ds.iterator();
            for (int j = 0; j < currentOrder; j++) {
                axpy(x, LmsCoefficients.coefficient(currentOrder, sigmas, i, j), it.next());
            }
            stepDone(i, denoised);
        }
        return toFloat(x);
    }

    float[] dpmpp2m() {
        double[] oldDenoised = null;
        for (int i = 0; i < steps; i++) {
            double s = sigmas[i], next = sigmas[i + 1];
            double[] denoised = denoise(x, s, i);
            if (next == 0) {
                // t_next = -log 0 = inf: the update collapses to the denoised estimate.
                x = denoised.clone();
            } else {
                double t = -Math.log(s), tNext = -Math.log(next);
                double h = tNext - t;
                double ratio = next / s;
                double weight = -Math.expm1(-h);
                double[] target = denoised;
                if (oldDenoised != null) {
                    double hLast = t - (-Math.log(sigmas[i - 1]));
                    double r = hLast / h;
                    target = new double[x.length];
                    for (int k = 0; k < x.length; k++) {
                        target[k] = (1 + 1 / (2 * r)) * denoised[k] - (1 / (2 * r)) * oldDenoised[k];
                    }
                }
                for (int k = 0; k < x.length; k++) x[k] = ratio * x[k] + weight * target[k];
            }
            oldDenoised = denoised;
            stepDone(i, denoised);
        }
        return toFloat(x);
    }

    float[] ddim() {
        // diffusers' DDIMScheduler.step with eta 0 is an Euler step in these variables (Ddim). Its latents
        // are variance-preserving: every step is reported, and the result returned, in that one scale.
        for (int i = 0; i < steps; i++) {
            double s = sigmas[i], next = sigmas[i + 1];
            double[] denoised = denoise(x, s, i);
            axpy(x, next - s, derivative(x, denoised, s));
            stepDone(i, denoised, Ddim.varianceScale(next));
        }
        return scaled(x, Ddim.varianceScale(sigmas[steps]));
    }

    /** The step's main model call. */
    private double[] denoise(double[] at, double sigma, int i) {
        return toDouble(call(toFloat(at), sigma));
    }

    /**
     * Reports step {@code i} as soon as its latent exists: the callback gets the latent the step ended
     * with (at {@code sigmas[i + 1]}) and the estimate it moved towards, before the next model call, so a
     * cancel costs no extra call.
     */
    private void stepDone(int i, double[] denoised) {
        stepDone(i, denoised, 1);
    }

    /** As {@link #stepDone(int, double[])}, reporting the latent times {@code latentScale} (the sampler's own scale). */
    private void stepDone(int i, double[] denoised, double latentScale) {
        blend.apply(x, sigmas[i + 1]);
        if (!callback.onStep(new SamplerStep(i + 1, steps, sigmas[i], sigmas[i + 1], scaled(x, latentScale), toFloat(denoised)))) {
            throw new GenerationCancelledException("sampling cancelled after step " + (i + 1) + " of " + steps);
        }
    }

    /** An extra model call within a step (second-order corrections). */
    private double[] evaluate(double[] at, double sigma) {
        return toDouble(call(toFloat(at), sigma));
    }

    private float[] call(float[] latent, double sigma) {
        float[] out = denoiser.denoise(latent, sigma);
        if (out == null || out.length != latent.length) {
            throw new IllegalStateException("denoiser returned " + (out == null ? "null" : out.length + " values") + " for " + latent.length);
        }
        return out;
    }

    /** k-diffusion's to_d: the ODE derivative dx/dsigma = (x - denoised) / sigma. */
    private static double[] derivative(double[] x, double[] denoised, double sigma) {
        double[] d = new double[x.length];
        for (int k = 0; k < x.length; k++) d[k] = (x[k] - denoised[k]) / sigma;
        return d;
    }

    private static void axpy(double[] y, double a, double[] v) {
        for (int k = 0; k < y.length; k++) y[k] += a * v[k];
    }

    private static float[] scaled(double[] v, double scale) {
        float[] out = new float[v.length];
        for (int k = 0; k < v.length; k++) out[k] = (float) (v[k] * scale);
        return out;
    }

    private static double[] toDouble(float[] v) {
        double[] out = new double[v.length];
        for (int k = 0; k < v.length; k++) out[k] = v[k];
        return out;
    }

    private static float[] toFloat(double[] v) {
        float[] out = new float[v.length];
        for (int k = 0; k < v.length; k++) out[k] = (float) v[k];
        return out;
    }
}
