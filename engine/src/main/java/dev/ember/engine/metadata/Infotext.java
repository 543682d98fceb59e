package dev.ember.engine.metadata;

import dev.ember.engine.sampling.Sampler;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * AUTOMATIC1111's "infotext", the {@code parameters} PNG text chunk that most tools read:
 *
 * <pre>
 * a photo of a cat
 * Negative prompt: blurry
 * Steps: 30, Sampler: Euler a, CFG scale: 7.5, Seed: 42, Size: 512x512, Model: v1-5, Denoising strength: 0.4
 * </pre>
 *
 * As {@code modules/processing.py create_infotext} writes it: the prompt, the negative prompt line
 * only when there is one, then {@code Key: value} pairs joined by ", " in A1111's order, values that
 * contain ",", ":" or a newline JSON-quoted; keys whose value A1111 would leave out (None) are omitted.
 * Ember's own names become A1111's display names (sampler "Euler a", RNG "CPU", "Schedule type").
 * Only a summary: the {@code ember} JSON chunk is what re-runs read.
 */
public final class Infotext {
    private Infotext() {}

    public static String format(ImageParameters p) {
        Map<String, String> params = new LinkedHashMap<>();
        params.put("Steps", Integer.toString(p.steps()));
        params.put("Sampler", samplerName(p.sampler()));
        String schedule = scheduleName(p.schedule());
        if (schedule != null) params.put("Schedule type", schedule);
        params.put("CFG scale", number(p.cfgScale()));
        params.put("Seed", Long.toString(p.seed()));
        params.put("Size", p.width() + "x" + p.height());
        params.put("Model", modelName(p.model()));
        AddOnsRecord a = p.addOns();
        if (a != null && a.vae() != null) {
            if (a.vaeHash() != null) params.put("VAE hash", a.vaeHash().substring(0, 10));
            Path vae = Path.of(a.vae()).getFileName();
            params.put("VAE", vae == null ? a.vae() : vae.toString());
        }
        if (p.strength() != null) params.put("Denoising strength", number(p.strength()));
        if (p.clipSkip() > 1) params.put("Clip skip", Integer.toString(p.clipSkip()));
        if ("mt19937".equals(p.noise())) params.put("RNG", "CPU");
        if (p.inpaint() != null) {
            // A1111's extra_generation_params for a mask (after RNG, as create_infotext orders them); "Noise multiplier" only when it is not 1
            params.put("Mask blur", Integer.toString(p.inpaint().blur()));
            if (p.inpaint().noiseMultiplier() != 1) params.put("Noise multiplier", number(p.inpaint().noiseMultiplier()));
        }
        if (a != null && !a.loras().isEmpty()) params.put("Lora hashes", hashes(a.loras()));
        if (a != null && !a.embeddings().isEmpty()) params.put("TI hashes", hashes(a.embeddings()));
        params.put("Version", "ember " + p.emberVersion());

        StringBuilder out = new StringBuilder(p.prompt());
        if (!p.negativePrompt().isEmpty()) out.append("\nNegative prompt: ").append(p.negativePrompt());
        out.append('\n');
        String sep = "";
        for (Map.Entry<String, String> e : params.entrySet()) {
            out.append(sep).append(e.getKey()).append(": ").append(quote(e.getValue()));
            sep = ", ";
        }
        return out.toString().strip();
    }

    /** A1111's list "name: hash, name: hash" (its names lose ':' and ',', which would break the list). */
    private static String hashes(java.util.List<AddOnsRecord.Resource> resources) {
        StringBuilder out = new StringBuilder();
        for (AddOnsRecord.Resource r : resources) {
            if (r.shortHash() == null) continue;
            if (!out.isEmpty()) out.append(", ");
            out.append(r.name().replace(":", "").replace(",", "")).append(": ").append(r.shortHash());
        }
        return out.toString();
    }

    /** A1111's {@code quote}: JSON-quoted when the value would break the "k: v, k: v" list. */
    public static String quote(String value) {
        if (value.indexOf(',') < 0 && value.indexOf(':') < 0 && value.indexOf('\n') < 0) return value;
        StringBuilder q = new StringBuilder("\"");
        for (char c : value.toCharArray()) {
            switch (c) {
                case '"' -> q.append("\\\"");
                case '\\' -> q.append("\\\\");
                case '\n' -> q.append("\\n");
                case '\r' -> q.append("\\r");
                case '\t' -> q.append("\\t");
                default -> {
                    if (c < 0x20) q.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
                    else q.append(c);
                }
            }
        }
        return q.append('"').toString();
    }

    /** A1111's sampler display names. */
    public static String samplerName(String id) {
        return switch (Sampler.parse(id)) {
            case LMS -> "LMS";
            case EULER -> "Euler";
            case EULER_A -> "Euler a";
            case HEUN -> "Heun";
            case DPM2 -> "DPM2";
            case DPMPP_2M -> "DPM++ 2M";
            case DPMPP_2S_A -> "DPM++ 2S a";
            case DPMPP_SDE -> "DPM++ SDE";
            case LCM -> "LCM";
            case DDIM -> "DDIM";
        };
    }

    /** A1111's "Schedule type" names; null for the default (discrete), which A1111 leaves out. */
    static String scheduleName(String id) {
        return switch (dev.ember.engine.sampling.Schedule.parse(id)) {
            case DISCRETE -> null;
            case KARRAS -> "Karras";
            case EXPONENTIAL -> "Exponential";
            case SGM_UNIFORM -> "SGM Uniform";
            case SIMPLE -> "Simple";
            case TRAILING -> "Trailing";
        };
    }

    /** Python's str(float) for the values we write: 7.5, 7.0, 0.4. */
    public static String number(double v) {
        return Double.toString(v);
    }

    /** A1111 names the model by its file name without extension. */
    private static String modelName(String model) {
        Path name = Path.of(model).getFileName();
        if (name == null) return model;
        String s = name.toString();
        int dot = s.lastIndexOf('.');
        return dot > 0 ? s.substring(0, dot) : s;
    }
}
