package dev.ember.engine.reference;

import dev.ember.engine.model.StateDict;
import dev.ember.engine.model.TensorData;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A state dict read the way the reference networks need it: tensors by their raw LDM names under one
 * prefix (spelled out by each reference, not taken from Ember's name tables), their shapes, and how
 * many numbered children a module list has. The references derive every size from these, so a
 * mistake in Ember's own config derivation or name mapping cannot cancel out.
 */
final class LdmTensors {
    private final StateDict weights;
    private final String prefix;

    LdmTensors(StateDict weights, String prefix) {
        this.weights = weights;
        this.prefix = prefix;
    }

    private TensorData get(String name) {
        TensorData t = weights.tensors().get(prefix + name);
        if (t == null) throw new IllegalArgumentException("the reference needs " + prefix + name + ", which the weights lack");
        return t;
    }

    double[] load(String name) {
        return Ops.load(weights, prefix + name);
    }

    boolean has(String name) {
        return weights.contains(prefix + name);
    }

    int rank(String name) {
        return get(name).rank();
    }

    /** Dimension {@code i} of the tensor's PyTorch shape. */
    int dim(String name, int i) {
        return Math.toIntExact(get(name).dim(i));
    }

    /** How many children {@code list.0.}, {@code list.1.}, ... the module list {@code list} (ending in ".") has; they must be 0..n-1. */
    int count(String list) {
        Pattern p = Pattern.compile(Pattern.quote(prefix + list) + "(\\d+)\\..*");
        TreeSet<Integer> seen = new TreeSet<>();
        for (String name : weights.tensors().keySet()) {
            Matcher m = p.matcher(name);
            if (m.matches()) seen.add(Integer.parseInt(m.group(1)));
        }
        if (!seen.isEmpty() && (seen.first() != 0 || seen.last() != seen.size() - 1)) {
            throw new IllegalArgumentException(prefix + list + " has children " + seen + ", not 0.." + (seen.size() - 1));
        }
        return seen.size();
    }
}
