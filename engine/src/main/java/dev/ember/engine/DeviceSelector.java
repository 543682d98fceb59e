package dev.ember.engine;

import java.util.List;
import java.util.Locale;

/**
 * Turns a user's device string into a ggml device index: {@code cpu}; {@code cuda:0},
 * {@code vulkan:1}, {@code metal:0} (backend name plus ordinal, as ggml names them CUDA0, Vulkan1,
 * MTL0); a ggml device name as {@code ember devices} prints it; or a plain index.
 */
public final class DeviceSelector {
    private DeviceSelector() {}

    /** -1 for the CPU, else the index into {@link Ember#devices()}. */
    public static int resolve(String device, List<DeviceInfo> devices) {
        String d = device.strip().toLowerCase(Locale.ROOT);
        if (d.equals("cpu")) return -1;
        if (d.matches("\\d+")) {
            int index = Integer.parseInt(d);
            if (index < devices.size() && devices.get(index).type() != DeviceInfo.Type.ACCEL) {
                return devices.get(index).type() == DeviceInfo.Type.CPU ? -1 : index;
            }
            throw new IllegalArgumentException(unknown(device, devices));
        }
        String wanted = d;
        int colon = d.indexOf(':');
        if (colon > 0) {
            String backend = d.substring(0, colon), ordinal = d.substring(colon + 1);
            wanted = switch (backend) {
                case "metal", "mtl" -> "mtl" + ordinal;
                default -> backend + ordinal;
            };
        }
        for (DeviceInfo info : devices) {
            if (info.type() == DeviceInfo.Type.ACCEL) continue; // BLAS and the like assist the CPU; not a device of their own
            if (info.name().toLowerCase(Locale.ROOT).equals(wanted)) return info.type() == DeviceInfo.Type.CPU ? -1 : info.index();
        }
        throw new IllegalArgumentException(unknown(device, devices));
    }

    private static String unknown(String device, List<DeviceInfo> devices) {
        StringBuilder names = new StringBuilder("cpu");
        for (DeviceInfo info : devices) {
            if (info.type() == DeviceInfo.Type.CPU || info.type() == DeviceInfo.Type.ACCEL) continue;
            names.append(", ").append(info.name().toLowerCase(Locale.ROOT).replaceFirst("(\\d+)$", ":$1"));
        }
        return "unknown device '" + device + "'; this build has: " + names
                + (names.toString().equals("cpu") ? " (build with EMBER_CMAKE_FLAGS=-DEMBER_CUDA=ON for NVIDIA GPUs)" : "");
    }
}
