package dev.ember.engine.lora;

import dev.ember.engine.ModelFileException;
import dev.ember.engine.model.Architecture;
import dev.ember.engine.model.CanonicalNames;
import dev.ember.engine.model.ModelSpec;
import dev.ember.engine.model.NetworkLayout;
import dev.ember.engine.model.TensorSpec;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The layers of one model that a LoRA may adapt, under the keys LoRA files use: every linear and
 * convolution weight of the UNet under {@code lora_unet_} + its diffusers module name and + its LDM module
 * name (kohya uses the first for SD 1.x, the second, sgm's names, for SDXL), and of the text encoder under
 * {@code lora_te_} + its Hugging Face module name, dots written as underscores. SDXL's two encoders are
 * {@code lora_te1_} (CLIP ViT-L; also {@code lora_te_}, what diffusers' {@code text_encoder.} becomes) and
 * {@code lora_te2_} (OpenCLIP bigG, whose fused q/k/v the loader already split into Hugging Face's three
 * projections, so kohya's per-projection modules fit as they are). {@link #plan} matches a LoRA's modules to
 * them, checks every shape, and refuses a LoRA made for another architecture.
 */
public final class LoraTargets {
    private final ModelSpec spec;
    private final Map<String, TensorSpec> byKey = new HashMap<>();

    private LoraTargets(ModelSpec spec) {
        this.spec = spec;
        int n = spec.unet().numResBlocks();
        for (TensorSpec s : NetworkLayout.unet(spec.unet())) {
            if (!isMatrix(s)) continue;
            String ldm = s.name().substring(NetworkLayout.UNET_PREFIX.length());
            byKey.put("lora_unet_" + flat(ldm), s);
            byKey.put("lora_unet_" + flat(CanonicalNames.unetToDiffusers(ldm, n)), s);
        }
        boolean sdxl = spec.text2() != null;
        addText(NetworkLayout.textEncoder(spec.text()), NetworkLayout.TEXT_ROOT, sdxl ? new String[] {"lora_te_", "lora_te1_"} : new String[] {"lora_te_"});
        if (sdxl) addText(NetworkLayout.textEncoder2(spec.text2()), NetworkLayout.TEXT2_ROOT, new String[] {"lora_te2_"});
    }

    /** A text encoder's matrices (not its embeddings, not the projection) under each prefix + their Hugging Face module name. */
    private void addText(List<TensorSpec> specs, String root, String[] prefixes) {
        for (TensorSpec s : specs) {
            if (!isMatrix(s) || !s.name().startsWith(root + "text_model.") || s.name().contains(".embeddings.")) continue;
            for (String prefix : prefixes) byKey.put(prefix + flat(s.name().substring(root.length())), s);
        }
    }

    /** Whether a canonical weight belongs to a text encoder (either of SDXL's two), not the UNet. */
    public static boolean isText(String name) {
        return name.startsWith(NetworkLayout.TEXT_PREFIX) || name.startsWith(NetworkLayout.TEXT2_PREFIX);
    }

    public static LoraTargets of(ModelSpec spec) {
        return new LoraTargets(spec);
    }

    private static boolean isMatrix(TensorSpec s) {
        return s.kind() == TensorSpec.Kind.WEIGHT && (s.shape().length == 2 || s.shape().length == 4);
    }

    /** {@code a.b.weight} -> {@code a_b}. */
    private static String flat(String name) {
        String module = name.endsWith(".weight") ? name.substring(0, name.length() - ".weight".length()) : name;
        return module.replace('.', '_');
    }

    /** The weight a module key adapts, or null. */
    public TensorSpec find(String key) {
        return byKey.get(key);
    }

    /** One LoRA module's share of a weight's update: {@code coefficient * up @ down} (or the CP product). */
    public record Contribution(LoraFile.Module module, double coefficient) {}

    /** What a list of LoRAs does to this model: the update terms of each adapted weight, and notes for the user. */
    public record Plan(Map<String, List<Contribution>> updates, List<String> warnings) {
        public Plan {
            updates = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(updates));
            warnings = List.copyOf(warnings);
        }

        public boolean isEmpty() {
            return updates.isEmpty();
        }
    }

    /** A LoRA file with the weight it is applied with. */
    public record Weighted(LoraFile file, double weight) {}

    /**
     * Matches every module of every LoRA to this model's weights and checks the shapes.
     *
     * @throws ModelFileException for a LoRA made for another architecture (SDXL keys on an SD 1.x/2.x model, a
     *     module whose shape does not fit, or nothing that matches at all), naming the file and the evidence
     */
    public Plan plan(List<Weighted> loras) {
        Map<String, List<Contribution>> updates = new LinkedHashMap<>();
        List<String> warnings = new ArrayList<>();
        for (Weighted w : loras) {
            LoraFile f = w.file();
            List<String> unmatched = new ArrayList<>();
            int matched = 0;
            for (LoraFile.Module m : f.modules()) {
                if (spec.text2() == null && (m.network() == LoraFile.Network.TEXT_2 || m.key().startsWith("lora_te1_"))) {
                    throw new ModelFileException(f.path(), "is an SDXL LoRA (" + m.key() + " adapts one of SDXL's two text encoders); "
                            + "this model is " + spec.architecture().label());
                }
                TensorSpec target = find(m.key());
                if (target == null) {
                    unmatched.add(m.key());
                    continue;
                }
                checkShape(f, m, target);
                matched++;
                if (w.weight() != 0) updates.computeIfAbsent(target.name(), k -> new ArrayList<>()).add(new Contribution(m, w.weight() * m.scale()));
            }
            if (matched == 0) {
                throw new ModelFileException(f.path(), "matches no layer of this " + spec.architecture().label() + " model (" + f.modules().size()
                        + " modules, e.g. " + f.modules().getFirst().key() + ")" + guess(f));
            }
            if (!unmatched.isEmpty()) {
                warnings.add("LoRA " + f.name() + ": " + unmatched.size() + " of " + f.modules().size() + " modules match no layer of this model and are ignored: "
                        + String.join(", ", unmatched.subList(0, Math.min(5, unmatched.size()))) + (unmatched.size() > 5 ? ", ..." : ""));
            }
            if (!f.unsupported().isEmpty()) {
                var u = f.unsupported();
                warnings.add("LoRA " + f.name() + ": " + u.size() + " keys are ignored: " + u.getFirst().key() + " (" + u.getFirst().reason() + ")"
                        + (u.size() > 1 ? " and " + (u.size() - 1) + " more" : ""));
            }
        }
        return new Plan(updates, warnings);
    }

    /** The update's element count and output rows must be the weight's; otherwise the LoRA is for another model. */
    private void checkShape(LoraFile f, LoraFile.Module m, TensorSpec target) {
        long[] w = target.shape();
        long out = w[0], perRow = target.elementCount() / out;
        long r = m.down().dim(0);
        long upRank = m.mid() == null ? r : m.mid().dim(0);
        boolean fits = m.up().dim(0) == out && m.up().elementCount() == out * upRank;
        if (m.mid() == null) {
            fits &= m.down().elementCount() == r * perRow;
        } else {
            long[] mid = m.mid().shape();
            fits &= mid.length == 4 && mid[1] == r && w.length == 4 && mid[2] == w[2] && mid[3] == w[3]
                    && m.down().elementCount() == r * w[1];
        }
        if (!fits) {
            throw new ModelFileException(f.path(), "does not fit this " + spec.architecture().label() + " model: " + m.key() + " has up "
                    + Arrays.toString(m.up().shape()) + " and down " + Arrays.toString(m.down().shape()) + ", but " + target.name()
                    + " is " + Arrays.toString(w) + guess(f));
        }
    }

    /** ", it looks like a LoRA for X" from the widths its text and cross-attention modules read, when they tell. */
    private String guess(LoraFile f) {
        for (LoraFile.Module m : f.modules()) {
            long in = m.down().rank() >= 2 ? m.down().dim(1) : -1;
            if ((m.key().startsWith("lora_te1_") || m.key().startsWith("lora_te2_")) && spec.architecture() != Architecture.SDXL) {
                return "; it looks like a LoRA for SDXL";
            }
            // SDXL's first encoder is as wide as SD 1.x's: its width tells nothing there.
            if (m.key().startsWith("lora_te_") && m.key().endsWith("q_proj") && spec.architecture() != Architecture.SDXL) {
                String arch = in == 768 ? "SD 1.x" : in == 1024 ? "SD 2.x" : in == 1280 ? "SDXL" : null;
                if (arch != null && !arch.equals(spec.architecture().label())) return "; it looks like a LoRA for " + arch;
            }
            if (m.key().startsWith("lora_unet") && (m.key().endsWith("attn2_to_k") || m.key().endsWith("attn2_to_v"))) {
                String arch = in == 768 ? "SD 1.x" : in == 1024 ? "SD 2.x" : in == 2048 ? "SDXL" : null;
                if (arch != null && !arch.equals(spec.architecture().label())) return "; it looks like a LoRA for " + arch;
            }
        }
        return "";
    }

    Architecture architecture() {
        return spec.architecture();
    }
}
