using System.Runtime.InteropServices;

namespace StepDpo.Torch.Devices;

/// <summary>
/// Process-wide settings of the C runtime that libtorch runs on, made once at start, before the first tensor (a tool
/// run, a benchmark). Measured on the shared 2-core machine this project is built on:
/// <list type="bullet">
/// <item>glibc's malloc hands tensors above its mmap threshold (at most 32 MB, adapting) their own mappings and returns
/// freed memory to the kernel, so the next step's tensors fault their pages in again: 10-15% of a training step of the
/// tiny models (PyTorch in python pays the same). Large allocations from the heap and freed memory kept for reuse
/// (mallopt M_MMAP_THRESHOLD 1 GiB, M_TRIM_THRESHOLD 2 GiB) remove it; the process keeps its peak working set.</item>
/// <item>libtorch's OpenMP threads spin at every barrier waiting for the others (libgomp's default). On cores shared
/// with other work the thread they wait for is often not running: a run with 2 threads was up to 10x slower than with
/// 1. OMP_WAIT_POLICY=PASSIVE (unless set) makes them sleep instead; it must be in the environment before libgomp
/// loads, i.e. before the first TorchSharp call.</item>
/// </list>
/// </summary>
public static partial class CpuRuntime
{
    const int MmapThreshold = -3, TrimThreshold = -1; // mallopt parameters (malloc.h)

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int MallOpt(int parameter, int value);

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);

    static bool configured;

    public static void Configure()
    {
        if (configured || !OperatingSystem.IsLinux()) return;
        configured = true;
        try
        {
            MallOpt(MmapThreshold, 1 << 30);
            MallOpt(TrimThreshold, int.MaxValue);
            if (Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is null)
            {
                SetEnv("OMP_WAIT_POLICY", "PASSIVE", 0); // the C environment, which libgomp reads
                Environment.SetEnvironmentVariable("OMP_WAIT_POLICY", "PASSIVE");
            }
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { } // not glibc: defaults
    }
}
