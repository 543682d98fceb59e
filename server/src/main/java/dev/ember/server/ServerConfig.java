package dev.ember.server;

import dev.ember.engine.GenerationRequest;
import dev.ember.engine.ModelOptions;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * How {@code ember serve} runs. Validated on construction; start from {@link #defaults()}.
 *
 * @param host         the address to bind: 127.0.0.1 unless asked otherwise
 * @param port         the TCP port; 0 picks a free one (tests)
 * @param credentials  HTTP Basic users; empty = no authentication
 * @param queue        jobs that may wait; one more gets 429 with Retry-After
 * @param maxBatch     images that sample at once, their UNet calls batched (1 = one image at a time)
 * @param maxPixels    the largest width x height a request may ask for
 * @param maxSteps     the most sampling steps a request may ask for
 * @param maxImages    the most images one request may ask for (batch_size x n_iter, or n)
 * @param maxBodyBytes the largest request body; a bigger one gets 413
 * @param model        the checkpoint loaded first; null = the first of {@code models}, or Ember's tiny model
 * @param models       a folder whose checkpoints clients may switch to; null = only {@code model}
 * @param outputs      where {@code save_images} writes
 * @param modelOptions threads, device, weight type and the like for every model loaded
 * @param preview      how {@code /sdapi/v1/progress} draws {@code current_image}
 * @param previewEvery with {@link Preview#VAE}: at most one decode per this many steps
 */
public record ServerConfig(String host, int port, List<Credentials> credentials, int queue, int maxBatch, long maxPixels,
                           int maxSteps, int maxImages, long maxBodyBytes, Path model, Path models, Path outputs,
                           ModelOptions modelOptions, Preview preview, int previewEvery) {

    /** How the progress endpoint's preview of the current latent is made. */
    public enum Preview {
        /** SD's linear latent-to-RGB projection, blown up to image size: costs next to nothing. */
        PROJ,
        /** A full VAE decode of the latent: the real picture, one decode (the UNet waits for it) per preview. */
        VAE,
        /** A TAESD decode (needs the model options' {@code AddOns.taesd}): looks like the picture, for a fraction of a step. */
        TAESD,
        /** No preview. */
        NONE;

        public static Preview parse(String name) {
            return switch (name.strip().toLowerCase(Locale.ROOT)) {
                case "proj", "projection" -> PROJ;
                case "vae" -> VAE;
                case "taesd" -> TAESD;
                case "none", "off" -> NONE;
                default -> throw new IllegalArgumentException("unknown preview '" + name + "'; valid: proj, vae, taesd, none");
            };
        }
    }

    /** One HTTP Basic user. */
    public record Credentials(String user, String password) {
        public Credentials {
            Objects.requireNonNull(user, "user");
            Objects.requireNonNull(password, "password");
            if (user.isEmpty()) throw new IllegalArgumentException("--api-auth: empty user name");
        }

        /** A1111's {@code --api-auth} format: {@code user:pass[,user:pass]}; a password may contain ':'. */
        public static List<Credentials> parseList(String spec) {
            List<Credentials> out = new ArrayList<>();
            for (String pair : spec.split(",")) {
                int colon = pair.indexOf(':');
                if (colon < 0) throw new IllegalArgumentException("--api-auth: '" + pair + "' is not user:password");
                out.add(new Credentials(pair.substring(0, colon), pair.substring(colon + 1)));
            }
            return List.copyOf(out);
        }

        @Override
        public String toString() {
            return user + ":***";
        }
    }

    public ServerConfig {
        Objects.requireNonNull(host, "host");
        if (host.isBlank()) throw new IllegalArgumentException("host must not be empty");
        if (port < 0 || port > 65535) throw new IllegalArgumentException("port must be between 0 and 65535, got " + port);
        credentials = List.copyOf(credentials);
        if (queue < 1 || queue > 100_000) throw new IllegalArgumentException("queue must be between 1 and 100000, got " + queue);
        if (maxBatch < 1 || maxBatch > GenerationRequest.MAX_IMAGES) {
            throw new IllegalArgumentException("max batch must be between 1 and " + GenerationRequest.MAX_IMAGES + ", got " + maxBatch);
        }
        long largest = (long) GenerationRequest.MAX_SIDE * GenerationRequest.MAX_SIDE;
        if (maxPixels < 64 * 64 || maxPixels > largest) {
            throw new IllegalArgumentException("max pixels must be between 4096 and " + largest + ", got " + maxPixels);
        }
        if (maxSteps < 1 || maxSteps > GenerationRequest.MAX_STEPS) {
            throw new IllegalArgumentException("max steps must be between 1 and " + GenerationRequest.MAX_STEPS + ", got " + maxSteps);
        }
        if (maxImages < 1 || maxImages > GenerationRequest.MAX_IMAGES) {
            throw new IllegalArgumentException("max images must be between 1 and " + GenerationRequest.MAX_IMAGES + ", got " + maxImages);
        }
        if (maxBodyBytes < 1024) throw new IllegalArgumentException("max body must be at least 1024 bytes, got " + maxBodyBytes);
        Objects.requireNonNull(outputs, "outputs");
        Objects.requireNonNull(modelOptions, "modelOptions");
        Objects.requireNonNull(preview, "preview");
        if (previewEvery < 1) throw new IllegalArgumentException("preview every must be at least 1 step, got " + previewEvery);
    }

    /** Loopback, port 7860 (A1111's), no auth, 64 waiting jobs, batches of 4, 1 MP, 150 steps, 16 images, 64 MiB bodies. */
    public static ServerConfig defaults() {
        return new ServerConfig("127.0.0.1", 7860, List.of(), 64, 4, 1024 * 1024, 150, 16, 64L << 20, null, null,
                Path.of("outputs"), ModelOptions.defaults(), Preview.PROJ, 5);
    }

    public ServerConfig withHost(String v) { return new ServerConfig(v, port, credentials, queue, maxBatch, maxPixels, maxSteps, maxImages, maxBodyBytes, model, models, outputs, modelOptions, preview, previewEvery); }
    public ServerConfig withPort(int v) { return new ServerConfig(host, v, credentials, queue, maxBatch, maxPixels, maxSteps, maxImages, maxBodyBytes, model, models, outputs, modelOptions, preview, previewEvery); }
    public ServerConfig withCredentials(List<Credentials> v) { return new ServerConfig(host, port, v, queue, maxBatch, maxPixels, maxSteps, maxImages, maxBodyBytes, model, models, outputs, modelOptions, preview, previewEvery); }
    public ServerConfig withQueue(int v) { return new ServerConfig(host, port, credentials, v, maxBatch, maxPixels, maxSteps, maxImages, maxBodyBytes, model, models, outputs, modelOptions, preview, previewEvery); }
    public ServerConfig withMaxBatch(int v) { return new ServerConfig(host, port, credentials, queue, v, maxPixels, maxSteps, maxImages, maxBodyBytes, model, models, outputs, modelOptions, preview, previewEvery); }
    public ServerConfig withMaxPixels(long v) { return new ServerConfig(host, port, credentials, queue, maxBatch, v, maxSteps, maxImages, maxBodyBytes, model, models, outputs, modelOptions, preview, previewEvery); }
    public ServerConfig withMaxSteps(int v) { return new ServerConfig(host, port, credentials, queue, maxBatch, maxPixels, v, maxImages, maxBodyBytes, model, models, outputs, modelOptions, preview, previewEvery); }
    public ServerConfig withMaxImages(int v) { return new ServerConfig(host, port, credentials, queue, maxBatch, maxPixels, maxSteps, v, maxBodyBytes, model, models, outputs, modelOptions, preview, previewEvery); }
    public ServerConfig withMaxBodyBytes(long v) { return new ServerConfig(host, port, credentials, queue, maxBatch, maxPixels, maxSteps, maxImages, v, model, models, outputs, modelOptions, preview, previewEvery); }
    public ServerConfig withModel(Path v) { return new ServerConfig(host, port, credentials, queue, maxBatch, maxPixels, maxSteps, maxImages, maxBodyBytes, v, models, outputs, modelOptions, preview, previewEvery); }
    public ServerConfig withModels(Path v) { return new ServerConfig(host, port, credentials, queue, maxBatch, maxPixels, maxSteps, maxImages, maxBodyBytes, model, v, outputs, modelOptions, preview, previewEvery); }
    public ServerConfig withOutputs(Path v) { return new ServerConfig(host, port, credentials, queue, maxBatch, maxPixels, maxSteps, maxImages, maxBodyBytes, model, models, v, modelOptions, preview, previewEvery); }
    public ServerConfig withModelOptions(ModelOptions v) { return new ServerConfig(host, port, credentials, queue, maxBatch, maxPixels, maxSteps, maxImages, maxBodyBytes, model, models, outputs, v, preview, previewEvery); }
    public ServerConfig withPreview(Preview v, int every) { return new ServerConfig(host, port, credentials, queue, maxBatch, maxPixels, maxSteps, maxImages, maxBodyBytes, model, models, outputs, modelOptions, v, every); }

    /** Whether {@link #host} is a loopback address (the only kind that is safe without {@code --api-auth}). */
    public boolean loopbackOnly() {
        String h = host.toLowerCase(Locale.ROOT);
        return h.equals("localhost") || h.startsWith("127.") || h.equals("::1") || h.equals("[::1]");
    }
}
