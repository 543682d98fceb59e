package dev.ember.engine.model;

import dev.ember.engine.sampling.Prediction;
import dev.ember.engine.ModelFileException;
import dev.ember.engine.UnsupportedModelException;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Works out a {@link ModelSpec} from canonical tensors: channels, levels, res blocks, attention levels,
 * transformer depths, context width, projections, vector width and layer counts come from SHAPES; what
 * shapes cannot tell (head counts, activation, prediction type) from {@link ModelMetadata} keys, else
 * the architecture's defaults. SDXL is a UNet with {@code label_emb} next to a second text encoder.
 * Families Ember cannot run are refused by name ({@link UnsupportedModels}).
 */
public final class ArchitectureDetector {
    private static final String U = NetworkLayout.UNET_PREFIX, V = NetworkLayout.VAE_PREFIX, T = NetworkLayout.TEXT_PREFIX;

    private final Path path;
    private final Map<String, TensorData> t;
    private final Map<String, String> meta;

    private ArchitectureDetector(Path path, Map<String, TensorData> tensors, Map<String, String> metadata) {
        this.path = path;
        this.t = tensors;
        this.meta = metadata;
    }

    /**
     * Detects the spec of canonical {@code tensors}.
     *
     * @param predictionOverride the caller's prediction type, or null to use metadata or the default
     * @throws UnsupportedModelException for model families Ember cannot run (SD3, Flux, video models, the SDXL refiner)
     * @throws ModelFileException when a tensor detection needs is missing or the shapes contradict each other
     */
    public static ModelSpec detect(Path path, Map<String, TensorData> tensors, Map<String, String> metadata, Prediction predictionOverride) {
        return new ArchitectureDetector(path, tensors, metadata).detect(predictionOverride);
    }

    /**
     * The VAE config of canonical VAE tensors alone (a separate VAE file), from the same shapes and metadata
     * {@link #detect} reads.
     *
     * @throws ModelFileException when a tensor it needs is missing or misshapen
     */
    public static VaeConfig detectVae(Path path, Map<String, TensorData> tensors, Map<String, String> metadata) {
        try {
            return new ArchitectureDetector(path, tensors, metadata).vae(Architecture.SD1); // the architecture only gives a default scale
        } catch (IllegalArgumentException e) {
            throw new ModelFileException(path, "inconsistent VAE: " + e.getMessage());
        }
    }

    private ModelSpec detect(Prediction override) {
        UnsupportedModels.refuse(path, t.keySet());
        TensorData toK = need(U + "middle_block.1.transformer_blocks.0.attn2.to_k.weight", 2);
        int context = (int) toK.dim(1);
        boolean vector = t.containsKey(U + "label_emb.0.0.weight");
        Architecture arch;
        String a = meta.get(ModelMetadata.ARCHITECTURE);
        if (a != null) {
            arch = switch (a.toLowerCase(java.util.Locale.ROOT)) {
                case "sd1" -> Architecture.SD1;
                case "sd2" -> Architecture.SD2;
                case "sdxl" -> Architecture.SDXL;
                default -> throw new ModelFileException(path, "metadata " + ModelMetadata.ARCHITECTURE + " = '" + a + "' is not sd1, sd2 or sdxl");
            };
        } else if (vector) {
            // label_emb (the size/pooled-text vector) is SDXL's; a refiner has it too, but with bigG alone.
            refuseRefiner(context);
            arch = Architecture.SDXL;
        } else {
            // 1024 is OpenCLIP ViT-H's width: every SD 2.x UNet has it, no SD 1.x one does.
            arch = context == 1024 ? Architecture.SD2 : Architecture.SD1;
        }
        try {
            TextEncoderConfig text = text(arch, T, ModelMetadata.TEXT_NUM_HEADS, ModelMetadata.TEXT_ACTIVATION, ModelMetadata.TEXT_CLIP_SKIP,
                    arch.defaultText());
            TextEncoderConfig text2 = arch == Architecture.SDXL
                    ? text(arch, NetworkLayout.TEXT2_PREFIX, ModelMetadata.TEXT2_NUM_HEADS, ModelMetadata.TEXT2_ACTIVATION,
                            ModelMetadata.TEXT2_CLIP_SKIP, arch.defaultText2())
                    : null;
            UnetConfig unet = unet(arch, context);
            VaeConfig vae = vae(arch);
            Prediction prediction;
            String source;
            if (override != null) {
                prediction = override;
                source = "override";
            } else if (meta.containsKey(ModelMetadata.PREDICTION) || meta.containsKey(ModelMetadata.MODELSPEC_PREDICTION)) {
                String p = meta.getOrDefault(ModelMetadata.PREDICTION, meta.get(ModelMetadata.MODELSPEC_PREDICTION));
                prediction = Prediction.parse(p);
                source = meta.getOrDefault(ModelMetadata.PREDICTION_SOURCE, "metadata");
            } else {
                // The weights of an eps and a v model have the same names and shapes: nothing to detect.
                prediction = Prediction.EPSILON;
                source = arch == Architecture.SD2 ? "default (weights cannot tell; SD 2.x 768-v models need prediction v)" : "default";
            }
            return new ModelSpec(arch, prediction, source, text, unet, vae, text2);
        } catch (IllegalArgumentException e) {
            throw new ModelFileException(path, "inconsistent hyperparameters for " + arch.label() + ": " + e.getMessage());
        }
    }

    /**
     * SDXL's refiner conditions on OpenCLIP bigG alone (1280-wide context, in the file as
     * {@code conditioner.embedders.0.model.*}) and on an aesthetic score instead of the target size.
     */
    private void refuseRefiner(int context) {
        boolean bigGFirst = t.keySet().stream().anyMatch(n -> n.startsWith("conditioner.embedders.0.model."));
        if (bigGFirst || context == 1280 && !t.containsKey(T + "embeddings.token_embedding.weight")) {
            throw new UnsupportedModelException(path + ": SDXL refiner checkpoint (OpenCLIP bigG only, aesthetic-score conditioning); "
                    + "Ember runs SDXL base models and their fine-tunes, not the refiner");
        }
    }

    /**
     * A text encoder under {@code prefix} ({@code ...text_model.}); its projection, if any, beside it
     * ({@code ...text_projection.weight}). {@code def} gives what shapes cannot tell.
     */
    private TextEncoderConfig text(Architecture arch, String prefix, String headsKey, String activationKey, String clipSkipKey,
                                   TextEncoderConfig def) {
        TensorData tok = need(prefix + "embeddings.token_embedding.weight", 2);
        TensorData pos = need(prefix + "embeddings.position_embedding.weight", 2);
        int hidden = (int) tok.dim(1);
        int layers = count(prefix + "encoder.layers.");
        if (layers == 0) throw missing(prefix + "encoder.layers.0.mlp.fc1.weight");
        int intermediate = (int) need(prefix + "encoder.layers.0.mlp.fc1.weight", 2).dim(0);
        int heads = intMeta(headsKey, hidden == def.hiddenSize() ? def.numHeads() : Math.max(1, hidden / 64)); // CLIP's heads are 64 wide
        TextEncoderConfig.Activation act = meta.containsKey(activationKey) ? ModelMetadata.parseActivation(meta.get(activationKey)) : def.activation();
        // SD 2.x conditions on OpenCLIP's penultimate layer; diffusers folders drop the last layer instead (23 of 24).
        // SDXL takes both encoders' penultimate layers.
        int skip = switch (arch) {
            case SD1 -> intMeta(clipSkipKey, 1);
            case SD2 -> intMeta(clipSkipKey, layers == def.numLayers() ? 2 : 1);
            case SDXL -> intMeta(clipSkipKey, 2);
        };
        // Only an encoder that gives the pooled output (SDXL's bigG) has its projection read; its width comes from its shape.
        String root = prefix.substring(0, prefix.length() - "text_model.".length());
        int projectionDim = def.projectionDim() > 0 ? (int) need(root + NetworkLayout.PROJECTION, 2).dim(0) : 0;
        return new TextEncoderConfig((int) tok.dim(0), (int) pos.dim(0), hidden, intermediate, layers, heads, act, skip, projectionDim);
    }

    private UnetConfig unet(Architecture arch, int context) {
        TensorData convIn = need(U + "input_blocks.0.0.weight", 4);
        int mc = (int) convIn.dim(0);
        int out = (int) need(U + "out.2.weight", 4).dim(0);
        TreeSet<Integer> blocks = indices(U + "input_blocks.");
        int downs = 0;
        for (int b : blocks) if (t.containsKey(U + "input_blocks." + b + ".0.op.weight")) downs++;
        int levels = downs + 1;
        int last = blocks.isEmpty() ? 0 : blocks.last();
        if ((last - downs) % levels != 0 || last - downs <= 0) {
            throw new ModelFileException(path, "UNet input blocks do not form levels: " + last + " blocks, " + downs + " downsamplers");
        }
        int n = (last - downs) / levels;
        int[] mult = new int[levels];
        int attention = 0;
        int[] depths = new int[levels];
        for (int level = 0; level < levels; level++) {
            String first = U + "input_blocks." + ((n + 1) * level + 1) + ".";
            long ch = need(first + "0.in_layers.2.weight", 4).dim(0);
            if (ch % mc != 0) throw new ModelFileException(path, "UNet level " + level + " has " + ch + " channels, not a multiple of " + mc);
            mult[level] = (int) (ch / mc);
            if (t.containsKey(first + "1.norm.weight")) {
                attention |= 1 << level;
                depths[level] = count(first + "1.transformer_blocks.");
            }
        }
        int depth = count(U + "middle_block.1.transformer_blocks.");
        TensorData labelEmb = t.get(U + "label_emb.0.0.weight");
        int adm = labelEmb == null ? 0 : (int) need(labelEmb.name(), 2).dim(1);
        boolean linear = need(U + "middle_block.1.proj_in.weight", -1).rank() == 2;
        int heads = 0, headDim = 0;
        if (meta.containsKey(ModelMetadata.UNET_NUM_HEADS)) heads = intMeta(ModelMetadata.UNET_NUM_HEADS, 0);
        else if (meta.containsKey(ModelMetadata.UNET_HEAD_DIM)) headDim = intMeta(ModelMetadata.UNET_HEAD_DIM, 0);
        else if (arch == Architecture.SD1) heads = arch.defaultUnet().numHeads();
        else headDim = arch.defaultUnet().headDim();
        int groups = intMeta(ModelMetadata.UNET_NORM_GROUPS, 32);
        return new UnetConfig((int) convIn.dim(1), out, mc, n, mult, attention, heads, headDim, depth, context, linear, groups,
                depths, depth, adm);
    }

    private VaeConfig vae(Architecture arch) {
        TensorData convIn = need(V + "encoder.conv_in.weight", 4);
        int base = (int) convIn.dim(0);
        int latent = (int) need(V + "post_quant_conv.weight", 4).dim(0);
        int levels = count(V + "encoder.down.");
        int n = count(V + "encoder.down.0.block.");
        if (levels == 0 || n == 0) throw missing(V + "encoder.down.0.block.0.conv1.weight");
        int[] mult = new int[levels];
        for (int level = 0; level < levels; level++) {
            long ch = need(V + "encoder.down." + level + ".block.0.conv1.weight", 4).dim(0);
            if (ch % base != 0) throw new ModelFileException(path, "VAE level " + level + " has " + ch + " channels, not a multiple of " + base);
            mult[level] = (int) (ch / base);
        }
        double scale = meta.containsKey(ModelMetadata.VAE_SCALE_FACTOR) ? Double.parseDouble(meta.get(ModelMetadata.VAE_SCALE_FACTOR))
                : arch.defaultVaeScale();
        return new VaeConfig((int) convIn.dim(1), latent, base, mult, n, intMeta(ModelMetadata.VAE_NORM_GROUPS, 32), scale);
    }

    private TensorData need(String name, int rank) {
        TensorData d = t.get(name);
        if (d == null) throw missing(name);
        if (rank >= 0 && d.rank() != rank) {
            throw new ModelFileException(path, "wrong shape for the detected architecture: " + name + " has " + java.util.Arrays.toString(d.shape())
                    + ", expected rank " + rank);
        }
        return d;
    }

    private ModelFileException missing(String name) {
        return new ModelFileException(path, "missing required tensors: " + name + " (needed to detect the architecture)");
    }

    /** Distinct integers N in names {@code prefix + N + "."}. */
    private TreeSet<Integer> indices(String prefix) {
        Pattern p = Pattern.compile(Pattern.quote(prefix) + "(\\d+)\\..*");
        TreeSet<Integer> out = new TreeSet<>();
        for (String name : t.keySet()) {
            Matcher m = p.matcher(name);
            if (m.matches()) out.add(Integer.parseInt(m.group(1)));
        }
        return out;
    }

    private int count(String prefix) {
        return indices(prefix).size();
    }

    private int intMeta(String key, int fallback) {
        String v = meta.get(key);
        if (v == null) return fallback;
        try {
            return Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            throw new ModelFileException(path, "metadata " + key + " = '" + v + "' is not an integer");
        }
    }
}
