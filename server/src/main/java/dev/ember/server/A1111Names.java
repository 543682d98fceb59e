package dev.ember.server;

import dev.ember.engine.sampling.Sampler;
import dev.ember.engine.sampling.Schedule;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * AUTOMATIC1111's sampler and scheduler names for the samplers and schedules Ember has, as
 * {@code modules/sd_samplers_kdiffusion.py} and {@code modules/sd_schedulers.py} list them (name, aliases,
 * options). A sampler is found by its A1111 name, an A1111 alias or Ember's own name, in any case; the old
 * combined names ({@code "DPM++ 2M Karras"}) mean the sampler with the Karras schedule, as A1111 1.9+ reads them.
 * "Automatic" is A1111's default schedule for the sampler: Karras for DPM++ 2M and DPM2, the model's discrete
 * ("Uniform") schedule otherwise.
 */
final class A1111Names {
    /** One sampler as {@code /sdapi/v1/samplers} lists it. */
    record SamplerName(String name, Sampler sampler, List<String> aliases, Map<String, Object> options) {}

    /** One scheduler as {@code /sdapi/v1/schedulers} lists it; {@code schedule} null for Automatic. */
    record SchedulerName(String name, String label, Schedule schedule, List<String> aliases, double defaultRho, boolean needInnerModel) {}

    /** A resolved choice. */
    record Choice(Sampler sampler, Schedule schedule) {}

    static final List<SamplerName> SAMPLERS = List.of(
            new SamplerName("DPM++ 2M", Sampler.DPMPP_2M, List.of("k_dpmpp_2m"), Map.of("scheduler", "karras")),
            new SamplerName("Euler a", Sampler.EULER_A, List.of("k_euler_a", "k_euler_ancestral"), Map.of("uses_ensd", true)),
            new SamplerName("Euler", Sampler.EULER, List.of("k_euler"), Map.of()),
            new SamplerName("LMS", Sampler.LMS, List.of("k_lms"), Map.of()),
            new SamplerName("Heun", Sampler.HEUN, List.of("k_heun"), Map.of("second_order", true)),
            new SamplerName("DPM2", Sampler.DPM2, List.of("k_dpm_2"), orderedMap("scheduler", "karras", "second_order", true)),
            new SamplerName("DPM++ 2S a", Sampler.DPMPP_2S_A, List.of("k_dpmpp_2s_a"),
                    orderedMap("scheduler", "karras", "uses_ensd", true, "second_order", true)),
            new SamplerName("DPM++ SDE", Sampler.DPMPP_SDE, List.of("k_dpmpp_sde"),
                    orderedMap("scheduler", "karras", "second_order", true, "brownian_noise", true)),
            new SamplerName("LCM", Sampler.LCM, List.of("k_lcm"), Map.of()),
            new SamplerName("DDIM", Sampler.DDIM, List.of("ddim"), Map.of()));

    static final List<SchedulerName> SCHEDULERS = List.of(
            new SchedulerName("automatic", "Automatic", null, null, -1, false),
            new SchedulerName("uniform", "Uniform", Schedule.DISCRETE, List.of("discrete"), -1, true),
            new SchedulerName("karras", "Karras", Schedule.KARRAS, null, Schedule.KARRAS_RHO, false),
            new SchedulerName("exponential", "Exponential", Schedule.EXPONENTIAL, null, -1, false),
            new SchedulerName("sgm_uniform", "SGM Uniform", Schedule.SGM_UNIFORM, List.of("sgmuniform"), -1, true),
            new SchedulerName("simple", "Simple", Schedule.SIMPLE, null, -1, true),
            new SchedulerName("trailing", "Trailing", Schedule.TRAILING, null, -1, true));

    private A1111Names() {}

    /** A1111's display name of an Ember sampler. */
    static String displayName(Sampler sampler) {
        for (SamplerName s : SAMPLERS) if (s.sampler() == sampler) return s.name();
        throw new IllegalStateException("no A1111 name for " + sampler);
    }

    /**
     * The sampler and schedule for A1111's {@code sampler_name} and {@code scheduler} (null or "" = Automatic).
     *
     * @throws ApiException 422 naming {@code samplerField} or {@code scheduler} when a name is unknown
     */
    static Choice resolve(String samplerName, String samplerField, String schedulerName) {
        String wanted = samplerName.strip();
        Schedule fromName = null;
        if (wanted.toLowerCase(Locale.ROOT).endsWith(" karras")) {
            wanted = wanted.substring(0, wanted.length() - " karras".length()).strip();
            fromName = Schedule.KARRAS;
        }
        Sampler sampler = findSampler(wanted);
        if (sampler == null) {
            throw ApiException.invalid(samplerField, "unknown sampler '" + samplerName + "'; valid: "
                    + String.join(", ", SAMPLERS.stream().map(SamplerName::name).toList()) + " (or Ember's names)");
        }
        Schedule schedule = findSchedule(schedulerName);
        if (schedule == null) schedule = fromName != null ? fromName : automatic(sampler);
        return new Choice(sampler, schedule);
    }

    /** A1111's "Automatic" for a sampler: the {@code scheduler} option of its sampler entry, else the discrete schedule. */
    static Schedule automatic(Sampler sampler) {
        for (SamplerName s : SAMPLERS) {
            if (s.sampler() == sampler && "karras".equals(s.options().get("scheduler"))) return Schedule.KARRAS;
        }
        return Schedule.DISCRETE;
    }

    private static Sampler findSampler(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        for (SamplerName s : SAMPLERS) {
            if (s.name().toLowerCase(Locale.ROOT).equals(n) || s.aliases().contains(n)) return s.sampler();
        }
        try {
            return Sampler.parse(name);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    /** The schedule for a scheduler name; null for Automatic (or none given). */
    private static Schedule findSchedule(String name) {
        if (name == null || name.isBlank()) return null;
        String n = name.strip().toLowerCase(Locale.ROOT);
        for (SchedulerName s : SCHEDULERS) {
            boolean match = s.name().equals(n) || s.label().toLowerCase(Locale.ROOT).equals(n)
                    || (s.aliases() != null && s.aliases().contains(n));
            if (match) return s.schedule();
        }
        throw ApiException.invalid("scheduler", "unknown scheduler '" + name + "'; valid: "
                + String.join(", ", SCHEDULERS.stream().map(SchedulerName::label).toList()));
    }

    private static Map<String, Object> orderedMap(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], kv[i + 1]);
        return m;
    }
}
