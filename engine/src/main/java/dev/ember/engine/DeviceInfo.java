package dev.ember.engine;

/**
 * A compute device that libember's ggml build can run on.
 *
 * @param index       the index to pass as {@code --device} / the model options' device
 * @param name        ggml's device name ("CPU", "CUDA0", ...)
 * @param description a human description (the CPU model, the GPU name)
 * @param type        CPU, GPU, IGPU or ACCEL
 * @param memoryFree  free memory in bytes, as the backend reports it
 * @param memoryTotal total memory in bytes
 */
public record DeviceInfo(int index, String name, String description, Type type, long memoryFree, long memoryTotal) {
    public enum Type { CPU, GPU, IGPU, ACCEL }
}
