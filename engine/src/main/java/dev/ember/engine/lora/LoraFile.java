package dev.ember.engine.lora;

import dev.ember.engine.ModelFileException;
import dev.ember.engine.model.ModelFiles;
import dev.ember.engine.model.RawCheckpoint;
import dev.ember.engine.model.TensorData;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One LoRA file ({@code .safetensors}, or a PyTorch {@code .pt} / {@code .bin} / {@code .ckpt}), read into
 * its modules: for each adapted layer, {@code down} [r, in(, kh, kw)], {@code up} [out, r(, 1, 1)], an optional
 * LoCon {@code mid} [r, r, kh, kw] (CP decomposition) and {@code alpha}. Two key families are understood:
 * <ul>
 *   <li>kohya / A1111: {@code lora_unet_<module>}, {@code lora_te_<module>} (SDXL: {@code lora_te1_},
 *       {@code lora_te2_}), each with {@code .lora_down.weight}, {@code .lora_up.weight}, optionally
 *       {@code .lora_mid.weight} and {@code .alpha}; the module is a diffusers or LDM module name with its dots
 *       written as underscores;</li>
 *   <li>diffusers / PEFT: {@code unet.<module>.lora_A.weight} / {@code .lora_B.weight} (also
 *       {@code .lora.down.weight} / {@code .lora.up.weight}, the text encoders' {@code .lora_linear_layer.down.weight}
 *       and the older attention-processor names {@code ...processor.to_q_lora.down.weight}), {@code text_encoder.}
 *       and {@code text_encoder_2.}; PEFT keeps
 *       alpha outside the file, so these default to alpha = rank (scale 1) unless an {@code .alpha} key is there.</li>
 * </ul>
 * Keys of other adapter kinds (LoHa {@code hada_*}, LoKr {@code lokr_*}, full {@code .diff}, DoRA
 * {@code dora_scale}) or of incomplete modules are kept in {@link #unsupported()} with the reason, for the
 * caller to report. The file stays mapped until {@link #close()}.
 */
public final class LoraFile implements AutoCloseable {
    /** The network a module adapts. {@code TEXT_2} is SDXL's second text encoder. */
    public enum Network { UNET, TEXT, TEXT_2 }

    /**
     * One adapted layer. {@code key} is the kohya-style name ({@code lora_unet_down_blocks_0_..._to_q}).
     * The update it adds to the layer's weight W is {@code weight * scale() * up @ down} (with {@code mid}, the
     * CP product), reshaped to W's shape.
     */
    public record Module(String key, Network network, TensorData down, TensorData up, TensorData mid, Double alpha) {
        /** The rank r: rows of {@code down}. */
        public int rank() {
            return (int) down.dim(0);
        }

        /** alpha / rank, or 1 without an alpha (A1111's and diffusers' rule). */
        public double scale() {
            return alpha == null ? 1.0 : alpha / rank();
        }
    }

    /** A key Ember does not apply, and why. */
    public record Unsupported(String key, String reason) {}

    private static final Pattern PEFT_PART = Pattern.compile("(.+)\\.lora_([AB])(?:\\.[A-Za-z0-9_]+)?\\.weight");
    private static final Pattern PROCESSOR = Pattern.compile("(.+)\\.processor\\.(to_q|to_k|to_v|to_out)_lora\\.(down|up)\\.weight");

    private final Path path;
    private final RawCheckpoint raw;
    private final List<Module> modules;
    private final List<Unsupported> unsupported;

    private LoraFile(Path path, RawCheckpoint raw, List<Module> modules, List<Unsupported> unsupported) {
        this.path = path;
        this.raw = raw;
        this.modules = Collections.unmodifiableList(modules);
        this.unsupported = Collections.unmodifiableList(unsupported);
    }

    /**
     * Reads and parses a LoRA file.
     *
     * @throws ModelFileException when it cannot be read or holds no LoRA module at all
     */
    public static LoraFile open(Path path) {
        RawCheckpoint raw = ModelFiles.readRaw(path);
        try {
            return parse(path, raw);
        } catch (RuntimeException e) {
            raw.close();
            throw e;
        }
    }

    private static LoraFile parse(Path path, RawCheckpoint raw) {
        record Parts(Network network, Map<String, TensorData> parts) {}
        Map<String, Parts> byModule = new LinkedHashMap<>();
        List<Unsupported> unsupported = new ArrayList<>();
        for (var e : raw.tensors().tensors().entrySet()) {
            String key = e.getKey();
            String[] split = split(key);
            if (split == null) {
                unsupported.add(new Unsupported(key, reason(key)));
                continue;
            }
            String module = normalize(split[0]);
            Network network = network(module);
            if (network == null) {
                unsupported.add(new Unsupported(key, "not a UNet or text encoder module"));
                continue;
            }
            Parts p = byModule.computeIfAbsent(module, m -> new Parts(network, new LinkedHashMap<>()));
            if (p.parts.put(split[1], e.getValue()) != null) throw new ModelFileException(path, "LoRA key " + key + " appears twice");
        }
        List<Module> modules = new ArrayList<>();
        for (var e : byModule.entrySet()) {
            Map<String, TensorData> p = e.getValue().parts;
            TensorData down = p.get("down"), up = p.get("up"), mid = p.get("mid"), alpha = p.get("alpha");
            if (down == null || up == null || down.rank() < 2 || up.rank() < 2) {
                for (String part : p.keySet()) unsupported.add(new Unsupported(e.getKey() + "." + part, "module without both lora_down and lora_up matrices"));
                continue;
            }
            for (TensorData t : p.values()) {
                if (!t.dtype().isFloat()) throw new ModelFileException(path, "LoRA tensor " + t.name() + " is " + t.dtype() + ", not a float type");
            }
            modules.add(new Module(e.getKey(), e.getValue().network, down, up, mid, alpha == null ? null : scalar(path, alpha)));
        }
        if (modules.isEmpty()) {
            String why = unsupported.isEmpty() ? "it has no tensors" : unsupported.size() + " keys, e.g. " + unsupported.getFirst().key()
                    + " (" + unsupported.getFirst().reason() + ")";
            throw new ModelFileException(path, "not a LoRA Ember can apply: no lora_down/lora_up (or lora_A/lora_B) pairs; " + why);
        }
        return new LoraFile(path, raw, modules, unsupported);
    }

    /** {module, part} of a key, part being down, up, mid or alpha; null for keys of other adapter kinds. */
    private static String[] split(String key) {
        for (String[] s : new String[][] {{".lora_down.weight", "down"}, {".lora_up.weight", "up"}, {".lora_mid.weight", "mid"},
                {".lora.down.weight", "down"}, {".lora.up.weight", "up"}, {".lora_linear_layer.down.weight", "down"},
                {".lora_linear_layer.up.weight", "up"}, {".alpha", "alpha"}}) {
            if (key.endsWith(s[0])) return new String[] {key.substring(0, key.length() - s[0].length()), s[1]};
        }
        Matcher m = PROCESSOR.matcher(key);
        if (m.matches()) return new String[] {m.group(1) + "." + (m.group(2).equals("to_out") ? "to_out.0" : m.group(2)), m.group(3)};
        m = PEFT_PART.matcher(key);
        if (m.matches()) return new String[] {m.group(1), m.group(2).equals("A") ? "down" : "up"};
        return null;
    }

    private static String reason(String key) {
        String k = key.toLowerCase(Locale.ROOT);
        if (k.contains("hada_")) return "LoHa (hada_*) modules are not supported";
        if (k.contains("lokr_")) return "LoKr (lokr_*) modules are not supported";
        if (k.contains("dora_scale")) return "DoRA (dora_scale) is not supported";
        if (k.endsWith(".diff") || k.endsWith(".diff_b")) return "full weight differences (.diff) are not supported";
        return "not a LoRA key";
    }

    /** The kohya form of a module name: network prefix and the module path with dots as underscores. */
    static String normalize(String module) {
        String m = module;
        if (m.startsWith("base_model.model.")) m = m.substring("base_model.model.".length());
        for (String[] p : new String[][] {{"unet.", "lora_unet_"}, {"text_encoder_2.", "lora_te2_"}, {"text_encoder.", "lora_te_"}}) {
            if (m.startsWith(p[0])) return p[1] + m.substring(p[0].length()).replace('.', '_');
        }
        if (m.startsWith("lora_")) return m.replace('.', '_');
        // A bare diffusers name: the text encoder's start with text_model, everything else is the UNet's.
        return (m.startsWith("text_model.") ? "lora_te_" : "lora_unet_") + m.replace('.', '_');
    }

    private static Network network(String module) {
        if (module.startsWith("lora_unet_")) return Network.UNET;
        if (module.startsWith("lora_te2_")) return Network.TEXT_2;
        if (module.startsWith("lora_te_") || module.startsWith("lora_te1_")) return Network.TEXT;
        return null;
    }

    private static double scalar(Path path, TensorData t) {
        if (t.elementCount() != 1) throw new ModelFileException(path, "LoRA alpha " + t.name() + " has " + t.elementCount() + " values, not one");
        return switch (t.dtype()) {
            case F32 -> t.data().get(ValueLayout.JAVA_FLOAT_UNALIGNED, 0);
            case F64 -> t.data().get(ValueLayout.JAVA_DOUBLE_UNALIGNED, 0);
            case F16 -> Float.float16ToFloat(t.data().get(ValueLayout.JAVA_SHORT_UNALIGNED, 0));
            case BF16 -> Float.intBitsToFloat((t.data().get(ValueLayout.JAVA_SHORT_UNALIGNED, 0) & 0xffff) << 16);
            default -> throw new ModelFileException(path, "LoRA alpha " + t.name() + " is " + t.dtype());
        };
    }

    public Path path() {
        return path;
    }

    /** The file name without its extension: how prompts and A1111's infotext name a LoRA. */
    public String name() {
        return stem(path);
    }

    public List<Module> modules() {
        return modules;
    }

    public List<Unsupported> unsupported() {
        return unsupported;
    }

    /** The file's safetensors metadata (kohya's {@code ss_*} keys, ...), empty for other formats. */
    public Map<String, String> metadata() {
        return raw.metadata();
    }

    static String stem(Path path) {
        String name = path.getFileName().toString();
        int dot = name.lastIndexOf('.');
        return dot > 0 ? name.substring(0, dot) : name;
    }

    @Override
    public void close() {
        raw.close();
    }
}
