package dev.ember.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class DeviceSelectorTest {
    static final List<DeviceInfo> CPU_ONLY = List.of(new DeviceInfo(0, "CPU", "AMD EPYC", DeviceInfo.Type.CPU, 1, 1));
    static final List<DeviceInfo> WITH_GPUS = List.of(
            new DeviceInfo(0, "CUDA0", "NVIDIA H100", DeviceInfo.Type.GPU, 1, 1),
            new DeviceInfo(1, "CUDA1", "NVIDIA H100", DeviceInfo.Type.GPU, 1, 1),
            new DeviceInfo(2, "CPU", "Xeon", DeviceInfo.Type.CPU, 1, 1));

    @Test
    void cpuAndItsIndexMeanTheCpuDevice() {
        assertEquals(-1, DeviceSelector.resolve("cpu", CPU_ONLY));
        assertEquals(-1, DeviceSelector.resolve("CPU", WITH_GPUS));
        assertEquals(-1, DeviceSelector.resolve("0", CPU_ONLY));
        assertEquals(-1, DeviceSelector.resolve("2", WITH_GPUS));
    }

    @Test
    void backendOrdinalAndGgmlNamesSelectGpus() {
        assertEquals(0, DeviceSelector.resolve("cuda:0", WITH_GPUS));
        assertEquals(1, DeviceSelector.resolve("cuda:1", WITH_GPUS));
        assertEquals(1, DeviceSelector.resolve("CUDA1", WITH_GPUS));
        assertEquals(1, DeviceSelector.resolve("1", WITH_GPUS));
    }

    @Test
    void blasIsNotADeviceOfItsOwn() {
        List<DeviceInfo> withBlas = List.of(new DeviceInfo(0, "BLAS", "OpenBLAS", DeviceInfo.Type.ACCEL, 0, 0),
                new DeviceInfo(1, "CPU", "AMD EPYC", DeviceInfo.Type.CPU, 1, 1));
        assertEquals(-1, DeviceSelector.resolve("cpu", withBlas));
        assertEquals(-1, DeviceSelector.resolve("1", withBlas));
        assertThrows(IllegalArgumentException.class, () -> DeviceSelector.resolve("blas", withBlas));
        assertThrows(IllegalArgumentException.class, () -> DeviceSelector.resolve("0", withBlas));
    }

    @Test
    void unknownDevicesNameWhatExists() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> DeviceSelector.resolve("cuda:0", CPU_ONLY));
        assertTrue(e.getMessage().contains("unknown device 'cuda:0'; this build has: cpu"), e.getMessage());
        assertTrue(e.getMessage().contains("EMBER_CUDA=ON"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> DeviceSelector.resolve("cuda:7", WITH_GPUS));
        assertTrue(e.getMessage().contains("cpu, cuda:0, cuda:1"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> DeviceSelector.resolve("9", WITH_GPUS));
    }
}
