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

    /**
     * k-diffusion's get_ancestral_step with eta 1: the move from {@code from} to {@code to} splits into a
     * deterministic part down to {@code [0]} (sigma_down) and fresh noise of size {@code [1]} (sigma_up),
     * sigma_down^2 + sigma_up^2 = to^2.
     */
    private static double[] ancestralStep(double from, double to) {
        double up = Math.min(to, Math.sqrt(to * to * (from * from - to * to) / (from * from)));
        return new double[] {Math.sqrt(to * to - up * up), up};
    }

    float[] dpmpp2sAncestral(NoiseGenerator noise) {
        for (int i = 0; i < steps; i++) {
            double s = sigmas[i], next = sigmas[i + 1];
            double[] denoised = denoise(x, s, i);
            double[] ancestral = ancestralStep(s, next);
            double down = ancestral[0], up = ancestral[1];
            if (down == 0) {
                axpy(x, down - s, derivative(x, denoised, s)); // Euler to 0
            } else {
                // DPM-Solver++(2S) from t = -log s to t_next = -log sigma_down through the midpoint s_mid.
                double t = -Math.log(s), tNext = -Math.log(down);
                double h = tNext - t;
                double mid = Math.exp(-(t + h / 2));
                double[] x2 = new double[x.length];
                double a = mid / s, b = -Math.expm1(-h / 2);
                for (int k = 0; k < x.length; k++) x2[k] = a * x[k] + b * denoised[k];
                double[] denoised2 = evaluate(x2, mid);
                double c = down / s, d = -Math.expm1(-h);
                for (int k = 0; k < x.length; k++) x[k] = c * x[k] + d * denoised2[k];
            }
            if (next > 0) addNoise(noise, up);
            stepDone(i, denoised);
        }
        return toFloat(x);
    }

    float[] dpmppSde(NoiseGenerator noise) {
        final double r = 0.5;
        for (int i = 0; i < steps; i++) {
            double s = sigmas[i], next = sigmas[i + 1];
            double[] denoised = denoise(x, s, i);
            if (next == 0) {
                axpy(x, next - s, derivative(x, denoised, s)); // Euler to 0
            } else {
                double t = -Math.log(s), tNext = -Math.log(next);
                double h = tNext - t;
                double sMid = Math.exp(-(t + h * r));
                double fac = 1 / (2 * r);
                // Step 1: to the midpoint, ancestral split of s -> sMid.
                double[] a1 = ancestralStep(s, sMid);
                double t1 = -Math.log(a1[0]);
                double[] x2 = new double[x.length];
                double c1 = a1[0] / s, d1 = -Math.expm1(t - t1);
                float[] z1 = noise.next(x.length); // the Brownian increment over [sMid, s], normalised
                for (int k = 0; k < x.length; k++) x2[k] = c1 * x[k] + d1 * denoised[k] + a1[1] * z1[k];
                double[] denoised2 = evaluate(x2, sMid);
                // Step 2: to next, with the denoised estimates mixed.
                double[] a2 = ancestralStep(s, next);
                double t2 = -Math.log(a2[0]);
                double c2 = a2[0] / s, d2 = -Math.expm1(t - t2);
                // k-diffusion asks its Brownian tree (over sigma) for the increment over [next, s], which
                // contains [sMid, s]: the normalised increment is rho z1 + sqrt(1 - rho^2) z' with
                // rho = sqrt((s - sMid) / (s - next)). Drawn so, the noise has the tree's joint law.
                double rho = Math.sqrt((s - sMid) / (s - next)), rest = Math.sqrt(1 - rho * rho);
                float[] fresh = noise.next(x.length);
                for (int k = 0; k < x.length; k++) {
                    double z2 = rho * z1[k] + rest * fresh[k];
                    x[k] = c2 * x[k] + d2 * ((1 - fac) * denoised[k] + fac * denoised2[k]) + a2[1] * z2;
                }
            }
            stepDone(i, denoised);
        }
        return toFloat(x);
    }

    float[] lcm(NoiseGenerator noise) {
        for (int i = 0; i < steps; i++) {
            double next = sigmas[i + 1];
            double[] denoised = denoise(x, sigmas[i], i);
            x = denoised.clone();
            if (next > 0) addNoise(noise, next); // an eps model's noise_scaling: denoised + sigma * noise
            stepDone(i, denoised);
        }
        return toFloat(x);
    }

    private void addNoise(NoiseGenerator noise, double scale) {
        addNoise(noise, x, scale);
    }

    /** {@code y += scale * z} with fresh standard normal noise z (none drawn when the scale is 0). */
    private static void addNoise(NoiseGenerator noise, double[] y, double scale) {
        if (scale == 0) return;
        float[] z = noise.next(y.length);
        for (int k = 0; k < y.length; k++) y[k] += z[k] * scale;
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
