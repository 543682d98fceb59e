package dev.ember.engine;

import dev.ember.bindings.CpuVariantTiming;
import dev.ember.bindings.CpuVariants;
import java.nio.file.Path;
import java.util.List;

/**
 * Which CPU variant of libember runs in this process and why. A build for x86-64 Linux makes one library
 * per instruction-set level (sse42, haswell = AVX2, skylakex = AVX-512, zen4 = AVX-512 with VNNI/BF16);
 * the first run on a CPU times those it can run and remembers the fastest, because the widest is not
 * always the fastest (docs/performance.md, "CPU variants"). {@code EMBER_CPU_VARIANT} forces one.
 *
 * @param variant      the variant in use: a variant's name, or "native"/"default" for a one-library build
 * @param how          why this one, for people
 * @param measurements what the choice measured in this process (empty unless it measured)
 * @param record       the file that remembers the choice, or null
 */
public record CpuKernels(String variant, String how, List<Measurement> measurements, Path record) {
    public CpuKernels {
        measurements = List.copyOf(measurements);
    }

    /**
     * One variant's measurement: its f16 product and attention rates and the UNet step time they predict
     * (SD 1.5, 256 and 512 together); {@code note} says why it was not (fully) measured, else null;
     * {@code description} is all of it on one line for people.
     */
    public record Measurement(String variant, double productGflops, double attentionGflops, double exactAttentionGflops,
                              double estimatedStepSeconds, String note, String description) {}

    static CpuKernels of(String variant, CpuVariants.Choice choice) {
        if (choice == null) return new CpuKernels(variant, "not chosen: a one-library build, or a library file named directly", List.of(), null);
        String how = switch (choice.how()) {
            case FORCED -> "named by " + CpuVariants.VARIANT_ENV;
            case ONLY_ONE -> "the only variant this CPU can run";
            case REMEMBERED -> "measured earlier on this CPU";
            case MEASURED -> "measured now";
            case FALLBACK -> "nothing could be measured; the narrowest variant";
        };
        List<Measurement> m = choice.timings().stream().map(t -> new Measurement(t.variant(),
                CpuVariantTiming.PRODUCT_FLOP / t.productSeconds() / 1e9, CpuVariantTiming.ATTENTION_FLOP / t.attentionSeconds() / 1e9,
                CpuVariantTiming.EXACT_ATTENTION_FLOP / t.exactAttentionSeconds() / 1e9, t.estimatedStepSeconds(), t.error(), t.describe())).toList();
        return new CpuKernels(choice.variant().name(), how, m, choice.record());
    }
}
