package dev.ember.engine.model;

import java.util.function.IntPredicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Name mapping between diffusers' UNet2DConditionModel / AutoencoderKL and LDM's single-file names
 * (both directions, names without the component prefix). The block arithmetic follows LDM's layout:
 * level i of the encoder owns input blocks {@code (n+1)i+1 .. (n+1)i+n} and its downsampler is block
 * {@code (n+1)(i+1)}; decoder level i (lowest resolution first in both libraries) owns output blocks
 * {@code (n+1)i .. (n+1)i+n}. The VAE's decoder levels run the other way in LDM ({@code up.<L-1-i>}).
 */
final class DiffusersNames {
    private static final Pattern BLOCK = Pattern.compile("(down_blocks|up_blocks)\\.(\\d+)\\.(resnets|attentions|downsamplers|upsamplers)\\.(\\d+)\\.(.+)");
    private static final Pattern MID = Pattern.compile("mid_block\\.(resnets|attentions)\\.(\\d+)\\.(.+)");
    private static final Pattern LDM_BLOCK = Pattern.compile("(input_blocks|output_blocks|middle_block)\\.(?:(\\d+)\\.)?(\\d+)\\.(.+)");

    private DiffusersNames() {}

    // ---------------------------------------------------------------- UNet

    /** The LDM name of a diffusers UNet tensor, or null when it has none. */
    static String unetToLdm(String name, int n, IntPredicate upLevelHasAttention) {
        switch (head(name)) {
            case "time_embedding.linear_1" -> { return "time_embed.0." + tail(name); }
            case "time_embedding.linear_2" -> { return "time_embed.2." + tail(name); }
            case "add_embedding.linear_1" -> { return "label_emb.0.0." + tail(name); }
            case "add_embedding.linear_2" -> { return "label_emb.0.2." + tail(name); }
            case "conv_in" -> { return "input_blocks.0.0." + tail(name); }
            case "conv_norm_out" -> { return "out.0." + tail(name); }
            case "conv_out" -> { return "out.2." + tail(name); }
            default -> { }
        }
        Matcher m = BLOCK.matcher(name);
        if (m.matches()) {
            int i = Integer.parseInt(m.group(2)), j = Integer.parseInt(m.group(4));
            String kind = m.group(3), rest = m.group(5);
            if (m.group(1).equals("down_blocks")) {
                return switch (kind) {
                    case "resnets" -> "input_blocks." + ((n + 1) * i + j + 1) + ".0." + resnetToLdm(rest);
                    case "attentions" -> "input_blocks." + ((n + 1) * i + j + 1) + ".1." + rest;
                    case "downsamplers" -> rest.startsWith("conv.") ? "input_blocks." + ((n + 1) * (i + 1)) + ".0.op." + rest.substring(5) : null;
                    default -> null;
                };
            }
            return switch (kind) {
                case "resnets" -> "output_blocks." + ((n + 1) * i + j) + ".0." + resnetToLdm(rest);
                case "attentions" -> "output_blocks." + ((n + 1) * i + j) + ".1." + rest;
                case "upsamplers" -> "output_blocks." + ((n + 1) * i + n) + "." + (upLevelHasAttention.test(i) ? 2 : 1) + "." + rest;
                default -> null;
            };
        }
        m = MID.matcher(name);
        if (m.matches()) {
            int j = Integer.parseInt(m.group(2));
            return m.group(1).equals("resnets") ? "middle_block." + 2 * j + "." + resnetToLdm(m.group(3)) : "middle_block.1." + m.group(3);
        }
        return null;
    }

    /** The diffusers name of a canonical UNet tensor (without prefix). */
    static String unetToDiffusers(String ldm, int n) {
        switch (head(ldm)) {
            case "time_embed.0" -> { return "time_embedding.linear_1." + tail(ldm); }
            case "time_embed.2" -> { return "time_embedding.linear_2." + tail(ldm); }
            case "label_emb.0.0" -> { return "add_embedding.linear_1." + tail(ldm); }
            case "label_emb.0.2" -> { return "add_embedding.linear_2." + tail(ldm); }
            case "out.0" -> { return "conv_norm_out." + tail(ldm); }
            case "out.2" -> { return "conv_out." + tail(ldm); }
            default -> { }
        }
        Matcher m = LDM_BLOCK.matcher(ldm);
        if (!m.matches()) throw new IllegalArgumentException("no diffusers name for UNet tensor " + ldm);
        String rest = m.group(4);
        if (m.group(1).equals("middle_block")) {
            int s = Integer.parseInt(m.group(3));
            return s == 1 ? "mid_block.attentions.0." + rest : "mid_block.resnets." + s / 2 + "." + resnetToDiffusers(rest);
        }
        int k = Integer.parseInt(m.group(2)), s = Integer.parseInt(m.group(3));
        if (m.group(1).equals("input_blocks")) {
            if (k == 0) return "conv_in." + rest;
            if (k % (n + 1) == 0) return "down_blocks." + (k / (n + 1) - 1) + ".downsamplers.0.conv." + rest.substring("op.".length());
            int i = (k - 1) / (n + 1), j = (k - 1) % (n + 1);
            return "down_blocks." + i + (s == 0 ? ".resnets." + j + "." + resnetToDiffusers(rest) : ".attentions." + j + "." + rest);
        }
        int i = k / (n + 1), j = k % (n + 1);
        if (s == 0) return "up_blocks." + i + ".resnets." + j + "." + resnetToDiffusers(rest);
        if (rest.startsWith("conv.")) return "up_blocks." + i + ".upsamplers.0." + rest;
        return "up_blocks." + i + ".attentions." + j + "." + rest;
    }

    private static String resnetToLdm(String r) {
        return switch (head(r)) {
            case "norm1" -> "in_layers.0." + tail(r);
            case "conv1" -> "in_layers.2." + tail(r);
            case "time_emb_proj" -> "emb_layers.1." + tail(r);
            case "norm2" -> "out_layers.0." + tail(r);
            case "conv2" -> "out_layers.3." + tail(r);
            case "conv_shortcut" -> "skip_connection." + tail(r);
            default -> r;
        };
    }

    private static String resnetToDiffusers(String r) {
        return switch (head(r)) {
            case "in_layers.0" -> "norm1." + tail(r);
            case "in_layers.2" -> "conv1." + tail(r);
            case "emb_layers.1" -> "time_emb_proj." + tail(r);
            case "out_layers.0" -> "norm2." + tail(r);
            case "out_layers.3" -> "conv2." + tail(r);
            case "skip_connection" -> "conv_shortcut." + tail(r);
            default -> r;
        };
    }

    // ---------------------------------------------------------------- VAE

    /** The LDM name of a diffusers VAE tensor, or null. */
    static String vaeToLdm(String name, int levels) {
        String side = name.startsWith("encoder.") ? "encoder." : name.startsWith("decoder.") ? "decoder." : "";
        String r = name.substring(side.length());
        if (side.isEmpty()) return name.startsWith("quant_conv.") || name.startsWith("post_quant_conv.") ? name : null;
        if (r.startsWith("conv_norm_out.")) return side + "norm_out." + tail(r);
        if (r.startsWith("conv_in.") || r.startsWith("conv_out.")) return side + r;
        Matcher m = BLOCK.matcher(r);
        if (m.matches()) {
            int i = Integer.parseInt(m.group(2)), j = Integer.parseInt(m.group(4));
            String rest = m.group(5);
            boolean down = m.group(1).equals("down_blocks");
            int level = down ? i : levels - 1 - i;
            String base = side + (down ? "down." : "up.") + level + ".";
            return switch (m.group(3)) {
                case "resnets" -> base + "block." + j + "." + vaeResnet(rest, true);
                case "downsamplers" -> base + "downsample." + rest;
                case "upsamplers" -> base + "upsample." + rest;
                default -> null;
            };
        }
        m = MID.matcher(r);
        if (m.matches()) {
            if (m.group(1).equals("resnets")) return side + "mid.block_" + (Integer.parseInt(m.group(2)) + 1) + "." + vaeResnet(m.group(3), true);
            String a = m.group(3);
            String mapped = switch (head(a)) {
                case "group_norm" -> "norm";
                case "to_q", "query" -> "q";
                case "to_k", "key" -> "k";
                case "to_v", "value" -> "v";
                case "to_out.0", "proj_attn" -> "proj_out";
                default -> null;
            };
            return mapped == null ? null : side + "mid.attn_1." + mapped + "." + tail(a);
        }
        return null;
    }

    /** The diffusers name of a canonical VAE tensor (without prefix). */
    static String vaeToDiffusers(String ldm, int levels) {
        if (ldm.startsWith("quant_conv.") || ldm.startsWith("post_quant_conv.")) return ldm;
        String side = ldm.substring(0, ldm.indexOf('.') + 1);
        String r = ldm.substring(side.length());
        if (r.startsWith("norm_out.")) return side + "conv_norm_out." + tail(r);
        if (r.startsWith("conv_in.") || r.startsWith("conv_out.")) return ldm;
        if (r.startsWith("mid.block_")) {
            int b = r.charAt("mid.block_".length()) - '1';
            return side + "mid_block.resnets." + b + "." + vaeResnet(r.substring("mid.block_1.".length()), false);
        }
        if (r.startsWith("mid.attn_1.")) {
            String a = r.substring("mid.attn_1.".length());
            String mapped = switch (head(a)) {
                case "norm" -> "group_norm";
                case "q" -> "to_q";
                case "k" -> "to_k";
                case "v" -> "to_v";
                case "proj_out" -> "to_out.0";
                default -> throw new IllegalArgumentException("no diffusers name for VAE tensor " + ldm);
            };
            return side + "mid_block.attentions.0." + mapped + "." + tail(a);
        }
        String[] p = r.split("\\.", 4); // down|up, level, block|downsample|upsample, rest
        int level = Integer.parseInt(p[1]);
        boolean down = p[0].equals("down");
        String base = side + (down ? "down_blocks." + level : "up_blocks." + (levels - 1 - level)) + ".";
        if (p[2].equals("block")) {
            String[] q = p[3].split("\\.", 2);
            return base + "resnets." + q[0] + "." + vaeResnet(q[1], false);
        }
        return base + (down ? "downsamplers.0." : "upsamplers.0.") + p[3];
    }

    private static String vaeResnet(String r, boolean toLdm) {
        if (toLdm) return r.startsWith("conv_shortcut.") ? "nin_shortcut." + tail(r) : r;
        return r.startsWith("nin_shortcut.") ? "conv_shortcut." + tail(r) : r;
    }

    /** Everything before the last dot ("conv_in" of "conv_in.weight"). */
    private static String head(String name) {
        int dot = name.lastIndexOf('.');
        return dot < 0 ? name : name.substring(0, dot);
    }

    /** The last component ("weight"). */
    private static String tail(String name) {
        return name.substring(name.lastIndexOf('.') + 1);
    }
}
