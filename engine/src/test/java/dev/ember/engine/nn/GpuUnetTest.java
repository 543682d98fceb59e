package dev.ember.engine.nn;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ember.bindings.ember_h;
import dev.ember.engine.DeviceInfo;
import dev.ember.engine.Ember;
import dev.ember.engine.model.DType;
import dev.ember.engine.model.NetworkLayout;
import dev.ember.engine.model.StateDict;
import dev.ember.engine.model.SyntheticWeights;
import dev.ember.engine.model.UnetConfig;
import java.lang.foreign.Arena;
import java.util.List;
import java.util.Random;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The tiny UNet on the CPU and on the first CUDA device, f16 weights on both: relative L2 <= 1e-2.
 * Skipped, with the reason, where ggml lists no CUDA device (a build without -DEMBER_CUDA=ON, or no
 * GPU or driver); never faked.
 */
class GpuUnetTest {
    @Test
    void tinyUnetMatchesTheCpuOnCuda() {
        List<DeviceInfo> devices = Ember.devices();
        DeviceInfo cuda = devices.stream().filter(d -> d.name().startsWith("CUDA")).findFirst().orElse(null);
        if (cuda == null) {
            String reason = "no CUDA device: ggml lists only " + devices.stream().map(DeviceInfo::name).collect(Collectors.joining(", "))
                    + " (libember built without -DEMBER_CUDA=ON, or no GPU/driver visible)";
            System.out.println("GpuUnetTest skipped: " + reason);
            assumeTrue(false, reason);
        }

        UnetConfig config = UnetConfig.TINY;
        int batch = 2, h = 16, w = 16, tokens = 77;
        Random r = new Random(7);
        float[] latent = new float[batch * config.inChannels() * h * w];
        float[] context = new float[batch * tokens * config.contextDim()];
        for (int i = 0; i < latent.length; i++) latent[i] = (float) r.nextGaussian();
        for (int i = 0; i < context.length; i++) context[i] = (float) r.nextGaussian();
        float[] timesteps = {500f, 500f};

        StateDict weights = SyntheticWeights.generate(NetworkLayout.unet(config), 20260101L, DType.F16, Arena.ofShared());
        float[] cpu, gpu;
        try (NativeContext ctx = new NativeContext(new NativeContext.Options(1, -1, false, false));
             Unet unet = new Unet(ctx, config, weights, ember_h.EMBER_WEIGHT_F16())) {
            cpu = unet.forward(latent, batch, h, w, timesteps, context, tokens);
        }
        try (NativeContext ctx = new NativeContext(new NativeContext.Options(1, cuda.index(), false, false));
             Unet unet = new Unet(ctx, config, weights, ember_h.EMBER_WEIGHT_F16())) {
            assertTrue(ctx.onCuda());
            gpu = unet.forward(latent, batch, h, w, timesteps, context, tokens);
        } finally {
            weights.close();
        }
        double num = 0, den = 0;
        for (int i = 0; i < cpu.length; i++) {
            double d = gpu[i] - cpu[i];
            num += d * d;
            den += (double) cpu[i] * cpu[i];
        }
        double rel = Math.sqrt(num / den);
        System.out.printf("GpuUnetTest: %s (%s) vs CPU, tiny UNet f16: relative L2 %.3e%n", cuda.name(), cuda.description(), rel);
        assertTrue(rel <= 1e-2, "relative L2 " + rel + " > 1e-2");
    }
}
