package dev.ember.server;

import dev.ember.engine.GenerationRequest;
import io.javalin.http.Context;
import io.javalin.router.JavalinDefaultRoutingApi;
import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * OpenAI's images API: {@code POST /v1/images/generations} ({@code prompt}, {@code n}, {@code size} "WxH",
 * {@code response_format} b64_json or url, {@code output_format} png; {@code model} names a checkpoint, while
 * OpenAI's own model names mean the loaded one) answering {@code {created, data: [{b64_json, revised_prompt}]}},
 * and {@code GET /v1/models}. A {@code url} answer is a {@code data:} URL: the server keeps no files to link
 * to. The rest is A1111's defaults (50 steps, cfg 7, Euler); {@code negative_prompt}, {@code steps},
 * {@code cfg_scale} and {@code seed} are accepted as extensions.
 */
final class OpenAiApi {
    private static final Pattern SIZE = Pattern.compile("^\\s*(\\d{1,5})\\s*[xX]\\s*(\\d{1,5})\\s*$");
    private static final int MAX_N = 10;

    private final EmberServer server;

    OpenAiApi(EmberServer server) {
        this.server = server;
    }

    void routes(JavalinDefaultRoutingApi r) {
        r.post("/v1/images/generations", this::generations);
        r.get("/v1/models", ctx -> {
            List<Map<String, Object>> data = new ArrayList<>();
            for (ModelCatalog.Entry e : server.catalog().entries()) data.add(model(e));
            Json.answer(ctx, 200, Map.of("object", "list", "data", data));
        });
    }

    private static Map<String, Object> model(ModelCatalog.Entry e) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", e.title());
        m.put("object", "model");
        long created;
        try {
            created = Files.getLastModifiedTime(e.file()).toMillis() / 1000;
        } catch (IOException x) {
            created = 0;
        }
        m.put("created", created);
        m.put("owned_by", "ember");
        return m;
    }

    private void generations(Context ctx) {
        RequestFields f = RequestFields.of(Json.body(ctx));
        String prompt = f.string("prompt", null);
        if (prompt == null) throw ApiException.invalid("prompt", "is required");
        int n = f.integer("n", 1, 1, Math.min(MAX_N, server.config().maxImages()));
        String model = f.string("model", null);
        // OpenAI answers dall-e requests with URLs unless asked otherwise, gpt-image ones always in base64.
        String format = f.string("response_format", model != null && model.strip().toLowerCase(Locale.ROOT).startsWith("dall-e") ? "url" : "b64_json")
                .strip().toLowerCase(Locale.ROOT);
        if (!format.equals("b64_json") && !format.equals("url")) throw ApiException.invalid("response_format", "must be b64_json or url, got '" + format + "'");
        String output = f.string("output_format", "png").strip().toLowerCase(Locale.ROOT);
        if (!output.equals("png")) throw ApiException.invalid("output_format", "only png is supported, got '" + output + "'");
        int[] size = size(f.string("size", "auto"));
        if ((long) size[0] * size[1] > server.config().maxPixels()) {
            throw ApiException.invalid("size", size[0] + "x" + size[1] + " is more than the " + server.config().maxPixels() + " pixels this server allows");
        }
        Selection selection = server.selection();
        ModelCatalog.Entry checkpoint = selection.checkpoint();
        if (model != null && !isOpenAiModel(model)) {
            checkpoint = server.catalog().find(model);
            if (checkpoint == null) throw ApiException.invalid("model", "unknown model '" + model + "'; see /v1/models");
        }
        int steps = f.integer("steps", 50, 1, server.config().maxSteps());
        double cfg = f.decimal("cfg_scale", 7.0, 1, GenerationRequest.MAX_CFG);
        long seed = f.integer("seed", -1L, Long.MIN_VALUE, Long.MAX_VALUE);
        if (seed == -1) seed = new java.security.SecureRandom().nextLong(4294967294L);
        A1111Names.Choice choice = A1111Names.resolve("Euler", "sampler", null);
        GenerationRequest.Builder base = GenerationRequest.builder(prompt).negativePrompt(f.string("negative_prompt", "")).steps(steps)
                .cfgScale(cfg).size(size[0], size[1]).sampler(choice.sampler()).schedule(choice.schedule()).noise(selection.noise()).images(1);
        List<GenerationRequest> requests = new ArrayList<>();
        for (int i = 0; i < n; i++) requests.add(base.seed(seed + i).build());
        Job job = server.run(ctx, new Job("txt2img", new Selection(checkpoint, selection.clipStop(), selection.noise()).key(), requests, null));
        if (job == null) return;
        List<Map<String, Object>> data = new ArrayList<>();
        for (Job.Image image : job.images()) {
            String b64 = Images.base64Png(image.image(), image.parameters());
            Map<String, Object> d = new LinkedHashMap<>();
            if (format.equals("url")) d.put("url", "data:image/png;base64," + b64);
            else d.put("b64_json", b64);
            d.put("revised_prompt", prompt);
            data.add(d);
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("created", System.currentTimeMillis() / 1000);
        out.put("data", data);
        out.put("output_format", "png");
        out.put("size", size[0] + "x" + size[1]);
        Json.answer(ctx, 200, out);
    }

    /** OpenAI's "WxH" (multiples of 8 here), or "auto" for 512x512. */
    private static int[] size(String value) {
        if (value.strip().equalsIgnoreCase("auto")) return new int[] {512, 512};
        Matcher m = SIZE.matcher(value);
        if (!m.matches()) throw ApiException.invalid("size", "must be WIDTHxHEIGHT (e.g. 512x512) or auto, got '" + value + "'");
        int w = Integer.parseInt(m.group(1)), h = Integer.parseInt(m.group(2));
        for (int side : new int[] {w, h}) {
            if (side < 64 || side > GenerationRequest.MAX_SIDE || side % 8 != 0) {
                throw ApiException.invalid("size", "sides must be multiples of 8 between 64 and " + GenerationRequest.MAX_SIDE + ", got " + value);
            }
        }
        return new int[] {w, h};
    }

    /** OpenAI's own image models, which clients send by default: they mean whatever model is loaded. */
    private static boolean isOpenAiModel(String model) {
        String m = model.strip().toLowerCase(Locale.ROOT);
        return m.startsWith("dall-e") || m.startsWith("gpt-image");
    }
}
