package dev.ember.engine.nn;

import dev.ember.bindings.ember_model_stats;
import java.lang.foreign.MemorySegment;

/**
 * What a loaded network holds on its device, as {@code ember_*_stats} reports it.
 *
 * @param weightBytes  device memory holding the weights
 * @param computeBytes device memory reserved for the largest graph run so far
 * @param parameters   number of parameters loaded
 * @param weightType   the {@code EMBER_WEIGHT_*} code matrix weights are stored in
 * @param graphs       distinct input shapes built so far
 */
public record NetworkStats(long weightBytes, long computeBytes, long parameters, int weightType, int graphs) {
    /** Reads an {@code ember_model_stats} struct. */
    static NetworkStats of(MemorySegment s) {
        return new NetworkStats(ember_model_stats.weight_bytes(s), ember_model_stats.compute_bytes(s),
                ember_model_stats.n_parameters(s), ember_model_stats.weight_type(s), ember_model_stats.n_graphs(s));
    }
}
