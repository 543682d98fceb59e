package dev.ember.cli;

import dev.ember.engine.AddOns;
import dev.ember.engine.ModelOptions;
import dev.ember.engine.TinyModel;
import dev.ember.engine.WeightType;
import dev.ember.server.EmberServer;
import dev.ember.server.ServerConfig;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code ember serve}: the AUTOMATIC1111- and OpenAI-compatible HTTP server (the server module), until Ctrl+C. */
@Command(name = "serve", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Serve AUTOMATIC1111's API (/sdapi/v1) and OpenAI's images API (/v1) with the model loaded once.",
                "Jobs wait in one FIFO queue; images of the same size sampling at once share their UNet calls."})
final class ServeCommand implements Callable<Integer> {
    @Option(names = "--model", paramLabel = "FILE", description = "Checkpoint to load first (default: the first in --models, else Ember's tiny synthetic model).")
    Path model;

    @Option(names = "--models", paramLabel = "DIR", description = "Folder of checkpoints clients may switch to (sd_model_checkpoint).")
    Path models;

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "Address to bind (default: ${DEFAULT-VALUE}; anything else needs --api-auth to be safe).")
    String host;

    @Option(names = "--port", defaultValue = "7860", description = "TCP port (default: ${DEFAULT-VALUE}, A1111's; 0 = any free one).")
    int port;

    @Option(names = "--api-auth", paramLabel = "USER:PASS[,USER:PASS]", description = "HTTP Basic credentials required on every endpoint (default: none).")
    String apiAuth;

    @Option(names = "--queue", defaultValue = "64", description = "Jobs that may wait; more get 429 with Retry-After (default: ${DEFAULT-VALUE}).")
    int queue;

    @Option(names = "--max-batch", defaultValue = "4", description = "Images sampled at once, sharing UNet calls (default: ${DEFAULT-VALUE}; 1 = one at a time).")
    int maxBatch;

    @Option(names = "--max-pixels", defaultValue = "1048576", description = "Largest width x height a request may ask for (default: ${DEFAULT-VALUE}).")
    long maxPixels;

    @Option(names = "--max-steps", defaultValue = "150", description = "Most sampling steps a request may ask for (default: ${DEFAULT-VALUE}).")
    int maxSteps;

    @Option(names = "--max-images", defaultValue = "16", description = "Most images per request (default: ${DEFAULT-VALUE}).")
    int maxImages;

    @Option(names = "--max-body-mb", defaultValue = "64", description = "Largest request body in MiB; bigger gets 413 (default: ${DEFAULT-VALUE}).")
    int maxBodyMb;

    @Option(names = "--outputs", defaultValue = "outputs", description = "Folder for save_images (default: ${DEFAULT-VALUE}).")
    Path outputs;

    @Option(names = "--preview", defaultValue = "proj", paramLabel = "proj|vae|taesd|none",
            description = "Progress previews: proj (cheap projection), vae (full decode, slows sampling), taesd (needs --taesd), none "
                    + "(default: ${DEFAULT-VALUE}).")
    String preview;

    @Option(names = "--lora-dir", paramLabel = "DIR", description = "Folder of LoRAs that prompts name with <lora:NAME:WEIGHT> (listed at /sdapi/v1/loras).")
    Path loraDir;

    @Option(names = "--embeddings-dir", paramLabel = "DIR", description = "Folder of textual-inversion embeddings used where prompts name them.")
    Path embeddingsDir;

    @Option(names = "--vae", paramLabel = "FILE", description = "A separate VAE replacing every model's own (listed at /sdapi/v1/sd-vae).")
    Path vae;

    @Option(names = "--taesd", paramLabel = "FILE", description = "TAESD weights, for --preview taesd.")
    Path taesd;

    @Option(names = "--vae-tiling", defaultValue = "auto", paramLabel = "auto|on|off",
            description = "Decode and encode in tiles: auto (when the untiled buffer would be large), on, off (default: ${DEFAULT-VALUE}).")
    String vaeTiling;

    @Option(names = "--preview-every", defaultValue = "5", description = "With --preview vae: at most one decode per N steps (default: ${DEFAULT-VALUE}).")
    int previewEvery;

    @Option(names = "--threads", defaultValue = "0", description = "CPU threads (default: all cores).")
    int threads;

    @Option(names = "--device", defaultValue = "cpu", description = "cpu, cuda:0, vulkan:0, metal:0 (default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--weight-type", defaultValue = "auto", description = "auto, f32, f16, q8_0 or q4_0 (default: ${DEFAULT-VALUE}).")
    String weightType;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut(), err = spec.commandLine().getErr();
        ServerConfig config;
        try {
            config = ServerConfig.defaults().withHost(host).withPort(port)
                    .withCredentials(apiAuth == null ? List.of() : ServerConfig.Credentials.parseList(apiAuth))
                    .withQueue(queue).withMaxBatch(maxBatch).withMaxPixels(maxPixels).withMaxSteps(maxSteps).withMaxImages(maxImages)
                    .withMaxBodyBytes((long) maxBodyMb << 20).withModel(model).withModels(models).withOutputs(outputs)
                    .withPreview(ServerConfig.Preview.parse(preview), previewEvery)
                    .withModelOptions(ModelOptions.defaults().withThreads(threads).withDevice(device).withWeightType(WeightType.parse(weightType))
                            .withAddOns(AddOns.none().withLoraDir(loraDir).withEmbeddingsDir(embeddingsDir).withVae(vae).withTaesd(taesd)
                                    .withTiling(AddOns.VaeTiling.parse(vaeTiling))));
            if (config.preview() == ServerConfig.Preview.TAESD && taesd == null) {
                throw new IllegalArgumentException("--preview taesd needs --taesd FILE");
            }
        } catch (IllegalArgumentException e) {
            throw new EmberCommand.UsageException(e.getMessage());
        }
        if (model == null && models == null) err.println(TinyModel.NOTICE);
        if (!config.loopbackOnly() && config.credentials().isEmpty()) {
            err.println("ember: warning: serving on " + host + " without --api-auth: anyone who can reach this port can use it");
        }
        err.flush();
        EmberServer server = EmberServer.start(config);
        CountDownLatch stopped = new CountDownLatch(1);
        Thread hook = new Thread(() -> {
            server.close();
            stopped.countDown();
        }, "ember-serve-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            out.println("ember: loading the model...");
            out.flush();
            String title;
            try {
                title = server.ready().join();
            } catch (CompletionException e) {
                throw new IllegalArgumentException(root(e));
            }
            out.println("ember: serving " + title + " at " + server.url() + " (AUTOMATIC1111 API: " + server.url() + "/sdapi/v1, OpenAI API: "
                    + server.url() + "/v1); Ctrl+C stops");
            out.flush();
            stopped.await();
            return 0;
        } catch (InterruptedException e) {
            return 0; // stopped by the embedding code (tests)
        } finally {
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running: it closes the server
            }
            if (stopped.getCount() > 0) server.close();
        }
    }

    /** The message of what a completion failure wraps. */
    private static String root(CompletionException e) {
        Throwable t = e.getCause() == null ? e : e.getCause();
        return t.getMessage() == null ? t.toString() : t.getMessage();
    }
}
