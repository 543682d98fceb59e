package dev.ember.server;

import com.fasterxml.jackson.databind.node.NullNode;
import dev.ember.engine.Ember;
import dev.ember.engine.GenerationRequest;
import dev.ember.engine.image.OutputFiles;
import dev.ember.engine.image.PngText;
import dev.ember.engine.metadata.Infotext;
import dev.ember.engine.metadata.PngMetadata;
import io.javalin.http.Context;
import io.javalin.router.JavalinDefaultRoutingApi;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;

/**
 * AUTOMATIC1111's API under {@code /sdapi/v1} ({@code modules/api/api.py}): the same paths, fields, defaults and
 * answer shapes, so A1111 clients work unchanged. See {@link A1111Request} for what txt2img and img2img accept.
 */
final class A1111Api {
    private final EmberServer server;

    A1111Api(EmberServer server) {
        this.server = server;
    }

    void routes(JavalinDefaultRoutingApi r) {
        r.post("/sdapi/v1/txt2img", ctx -> generate(ctx, false));
        r.post("/sdapi/v1/img2img", ctx -> generate(ctx, true));
        r.get("/sdapi/v1/progress", ctx -> Json.answer(ctx, 200,
                server.progress().answer(new RequestFields(query(ctx), "").bool("skip_current_image", false))));
        r.post("/sdapi/v1/interrupt", ctx -> {
            server.scheduler().interruptRunning();
            Json.answer(ctx, 200, Map.of());
        });
        r.post("/sdapi/v1/skip", ctx -> {
            server.scheduler().skipRunning();
            Json.answer(ctx, 200, NullNode.instance);
        });
        r.get("/sdapi/v1/options", this::options);
        r.post("/sdapi/v1/options", this::setOptions);
        r.get("/sdapi/v1/sd-models", this::models);
        r.post("/sdapi/v1/refresh-checkpoints", ctx -> {
            server.catalog().refresh();
            Json.answer(ctx, 200, NullNode.instance);
        });
        r.get("/sdapi/v1/samplers", ctx -> Json.answer(ctx, 200, A1111Names.SAMPLERS.stream().map(s -> {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", s.name());
            m.put("aliases", s.aliases());
            m.put("options", s.options());
            return m;
        }).toList()));
        r.get("/sdapi/v1/schedulers", ctx -> Json.answer(ctx, 200, A1111Names.SCHEDULERS.stream().map(s -> {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", s.name());
            m.put("label", s.label());
            m.put("aliases", s.aliases());
            m.put("default_rho", s.defaultRho());
            m.put("need_inner_model", s.needInnerModel());
            return m;
        }).toList()));
        // The separate VAE given at start (ember serve --vae), the LoRAs and embeddings of the folders given.
        r.get("/sdapi/v1/sd-vae", ctx -> Json.answer(ctx, 200, AddOnLists.vaes(server.config().modelOptions().addOns())));
        r.get("/sdapi/v1/loras", ctx -> Json.answer(ctx, 200, AddOnLists.loras(server.config().modelOptions().addOns())));
        r.get("/sdapi/v1/embeddings", ctx -> Json.answer(ctx, 200, AddOnLists.embeddings(server.config().modelOptions().addOns())));
        // Ember has no upscalers or latent upscale modes: empty lists, so clients that list them work.
        r.get("/sdapi/v1/upscalers", ctx -> Json.answer(ctx, 200, List.of()));
        r.get("/sdapi/v1/latent-upscale-modes", ctx -> Json.answer(ctx, 200, List.of()));
        r.post("/sdapi/v1/png-info", this::pngInfo);
    }

    /** The query string as an object, so {@code ?skip_current_image=true} reads like a body field. */
    private static com.fasterxml.jackson.databind.node.ObjectNode query(Context ctx) {
        var node = Json.MAPPER.createObjectNode();
        ctx.queryParamMap().forEach((k, v) -> node.put(k, v.isEmpty() ? "" : v.getFirst()));
        return node;
    }

    private void generate(Context ctx, boolean img2img) {
        A1111Request request = A1111Request.parse(Json.body(ctx), img2img, server.config(), server.catalog(), server.selection());
        Job job = server.run(ctx, request.job());
        if (job == null) return;
        List<String> images = new ArrayList<>(), infotexts = new ArrayList<>();
        List<Integer> stopped = new ArrayList<>();
        for (Job.Image image : job.images()) {
            infotexts.add(Infotext.format(image.parameters()));
            stopped.add(image.stoppedAtStep());
            if (request.saveImages()) save(image);
            if (request.sendImages()) images.add(Images.base64Png(image.image(), image.parameters()));
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("images", images);
        out.put("parameters", request.parameters());
        out.put("info", Json.string(info(request, job, infotexts, stopped)));
        Json.answer(ctx, 200, out);
    }

    private void save(Job.Image image) {
        try {
            OutputFiles.writeNumbered(server.config().outputs(), image.seed(), PngMetadata.encode(image.image(), image.parameters()));
        } catch (IOException e) {
            throw new ApiException(500, "save_images", "cannot write to " + server.config().outputs() + ": " + e.getMessage());
        }
    }

    /** {@code Processed.js()}: the run's parameters, every image's seed and prompt, and the infotexts. */
    private Map<String, Object> info(A1111Request request, Job job, List<String> infotexts, List<Integer> stopped) {
        List<GenerationRequest> all = job.requests();
        GenerationRequest first = all.getFirst();
        ModelCatalog.Entry checkpoint = job.model().checkpoint();
        Map<String, Object> js = new LinkedHashMap<>();
        js.put("prompt", first.prompt());
        js.put("all_prompts", all.stream().map(GenerationRequest::prompt).toList());
        js.put("negative_prompt", first.negativePrompt());
        js.put("all_negative_prompts", all.stream().map(GenerationRequest::negativePrompt).toList());
        js.put("seed", first.seed());
        js.put("all_seeds", all.stream().map(GenerationRequest::seed).toList());
        js.put("subseed", -1);
        js.put("all_subseeds", all.stream().map(r -> -1).toList());
        js.put("subseed_strength", 0);
        js.put("width", first.width());
        js.put("height", first.height());
        js.put("sampler_name", request.samplerName());
        js.put("cfg_scale", first.cfgScale());
        js.put("steps", first.steps());
        js.put("batch_size", request.batchSize());
        js.put("restore_faces", false);
        js.put("face_restoration_model", null);
        js.put("sd_model_name", checkpoint.modelName());
        js.put("sd_model_hash", server.catalog().shortHash(checkpoint));
        js.put("sd_vae_name", null);
        js.put("sd_vae_hash", null);
        js.put("seed_resize_from_w", -1);
        js.put("seed_resize_from_h", -1);
        js.put("denoising_strength", request.denoisingStrength());
        js.put("extra_generation_params", Map.of());
        js.put("index_of_first_image", 0);
        js.put("infotexts", infotexts);
        js.put("styles", List.of());
        js.put("job_timestamp", job.timestamp());
        js.put("clip_skip", request.clipStop());
        js.put("is_using_inpainting_conditioning", false);
        js.put("version", "ember " + Ember.version());
        js.put("warnings", job.warnings());
        if (job.interrupted() || stopped.stream().anyMatch(s -> s >= 0)) js.put("stopped_at_step", stopped);
        return js;
    }

    private void options(Context ctx) {
        Selection s = server.selection();
        ModelCatalog.Entry c = s.checkpoint();
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("sd_model_checkpoint", c.title());
        out.put("sd_checkpoint_hash", server.catalog().sha256(c));
        out.put("CLIP_stop_at_last_layers", s.clipStop());
        out.put("randn_source", s.randnSource());
        out.put("sd_vae", "Automatic");
        out.put("samples_format", "png");
        out.put("outdir_samples", server.config().outputs().toAbsolutePath().toString());
        out.put("live_previews_enable", server.config().preview() != ServerConfig.Preview.NONE);
        out.put("show_progress_type", server.config().preview() == ServerConfig.Preview.VAE ? "Full" : "Approx cheap");
        out.put("show_progress_every_n_steps", server.config().preview() == ServerConfig.Preview.VAE ? server.config().previewEvery() : 1);
        out.put("eta_noise_seed_delta", 0);
        Json.answer(ctx, 200, out);
    }

    /** Sets options; a new checkpoint or clip skip is loaded before this answers (after the jobs queued before). */
    private void setOptions(Context ctx) {
        RequestFields f = RequestFields.of(Json.body(ctx));
        Selection now = server.selection();
        ModelCatalog.Entry checkpoint = now.checkpoint();
        if (f.has("sd_model_checkpoint")) {
            String name = f.string("sd_model_checkpoint", null);
            checkpoint = server.catalog().find(name);
            if (checkpoint == null) throw ApiException.invalid("sd_model_checkpoint", "unknown checkpoint '" + name + "'; see /sdapi/v1/sd-models");
        }
        int clipStop = f.integer("CLIP_stop_at_last_layers", now.clipStop(), 1, Selection.MAX_CLIP_STOP);
        var noise = f.has("randn_source") ? Selection.parseRandnSource("randn_source", f.string("randn_source", "GPU")) : now.noise();
        Selection next = new Selection(checkpoint, clipStop, noise);
        server.select(next);
        if (!next.key().equals(now.key())) {
            try {
                server.scheduler().switchModel(next.key()).join();
            } catch (CompletionException e) {
                server.select(now);
                throw e.getCause() instanceof ApiException api ? api : new ApiException(500, null, EmberServer.rootMessage(e));
            }
        }
        Json.answer(ctx, 200, NullNode.instance);
    }

    private void models(Context ctx) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (ModelCatalog.Entry e : server.catalog().entries()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("title", e.title());
            m.put("model_name", e.modelName());
            m.put("hash", server.catalog().shortHash(e));
            m.put("sha256", server.catalog().sha256(e));
            m.put("filename", e.file().toString());
            m.put("config", null);
            out.add(m);
        }
        Json.answer(ctx, 200, out);
    }

    /** The generation parameters a PNG carries: A1111's text, parsed, and every other text chunk. */
    private void pngInfo(Context ctx) {
        RequestFields f = RequestFields.of(Json.body(ctx));
        String data = f.string("image", null);
        if (data == null) throw ApiException.invalid("image", "is required (a base64 PNG)");
        byte[] bytes = Images.bytes("image", data);
        Images.decode("image", bytes); // a clear 422 for anything that is not an image
        Map<String, String> texts;
        try {
            texts = PngText.read(bytes);
        } catch (IOException | IllegalArgumentException e) {
            texts = Map.of(); // not a PNG (JPEG, ...): no text chunks
        }
        String parameters = texts.getOrDefault(PngMetadata.PARAMETERS_KEY, "");
        Map<String, Object> items = new LinkedHashMap<>(texts);
        items.remove(PngMetadata.PARAMETERS_KEY);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("info", parameters);
        out.put("items", items);
        out.put("parameters", Infotexts.parse(parameters));
        Json.answer(ctx, 200, out);
    }
}
