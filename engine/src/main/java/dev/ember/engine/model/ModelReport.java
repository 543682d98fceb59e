package dev.ember.engine.model;

import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * What loading a checkpoint found: its format, each network's parameter count and element types,
 * the stored tensors Ember does not use (EMA copies, schedules, projections, ...), and, for an
 * inspected incomplete file, the required tensors that are missing or have the wrong shape.
 */
public record ModelReport(ModelFormat format, Map<Component, ComponentStats> components, List<String> unused,
        List<String> missing, List<String> wrongShape) {

    /** Parameters and tensors of one network, and how many parameters each element type holds. */
    public record ComponentStats(long parameters, int tensors, SortedMap<DType, Long> parametersByDtype) {
        public ComponentStats {
            if (parameters < 0 || tensors < 0) throw new IllegalArgumentException("negative counts");
            parametersByDtype = Collections.unmodifiableSortedMap(new TreeMap<>(parametersByDtype));
        }
    }

    public ModelReport {
        Objects.requireNonNull(format, "format");
        components = Collections.unmodifiableMap(new EnumMap<>(components));
        unused = List.copyOf(unused);
        missing = List.copyOf(missing);
        wrongShape = List.copyOf(wrongShape);
    }

    /** True when every required tensor is present with the right shape. */
    public boolean complete() {
        return missing.isEmpty() && wrongShape.isEmpty();
    }

    public long parameters(Component c) {
        ComponentStats s = components.get(c);
        return s == null ? 0 : s.parameters();
    }
}
