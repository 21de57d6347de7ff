using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace StepDpo.Torch.Devices;

/// <summary>
/// Process-wide settings of the C runtime libtorch runs on, made once, before anything in the process loads libtorch
/// (a module initializer: whichever assembly touches this one first). Both were measured on the shared 2-core machine:
/// <list type="bullet">
/// <item>libtorch's CPU kernels run on OpenMP (libgomp), whose worker threads spin between parallel regions by default;
/// on a shared machine the spinning threads take the cores the working ones need. At load average 6-9, 100 SFT steps of
/// the tiny model took 76-344 s with the default policy and 18-26 s with OMP_WAIT_POLICY=PASSIVE (threads sleep). libgomp
/// reads the variable once, when libtorch loads; it is set only when the user has not chosen a policy.</item>
/// <item>glibc's malloc gives allocations above its mmap threshold (adaptive, at most 32 MB) their own mappings and
/// returns freed memory to the kernel, so each step's tensors fault their pages in again. Serving large blocks from the
/// heap and keeping freed memory (M_MMAP_THRESHOLD 1 GiB, M_TRIM_THRESHOLD 2 GiB) took a bf16 SFT step of qwen2/small
/// from 179-215 to 143-153 ms CPU time (PyTorch 1.13 on the same allocator, tests/StepDpo.Bench/Peers); the process
/// keeps its peak working set instead of returning it between steps.</item>
/// </list>
/// </summary>
public static class CpuRuntime
{
    public const string WaitPolicyVariable = "OMP_WAIT_POLICY";
    const int MmapThreshold = -3, TrimThreshold = -1; // mallopt parameters (malloc.h)

    /// <summary>Call first thing in a process that will load libtorch through another assembly (the CLI, the benchmarks):
    /// it only makes sure the module initializer below has run.</summary>
    public static void Apply() { }

    /// <summary>Whether malloc was told to keep freed memory (glibc only).</summary>
    public static bool MallocKeepsMemory { get; private set; }

    // CA2255 warns libraries off module initializers; this one must run before anything in the process loads libtorch,
    // whichever assembly loads it first, which only a module initializer guarantees.
#pragma warning disable CA2255
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Initialize()
    {
        if (!OperatingSystem.IsLinux()) return;
        // Environment.SetEnvironmentVariable changes only .NET's copy on Unix; the native loader reads libc's.
        if (Environment.GetEnvironmentVariable(WaitPolicyVariable) is null) _ = setenv(WaitPolicyVariable, "PASSIVE", 0);
        try { MallocKeepsMemory = mallopt(MmapThreshold, 1 << 30) == 1 & mallopt(TrimThreshold, int.MaxValue) == 1; }
        catch (EntryPointNotFoundException) { } // not glibc (musl): its defaults
    }

    /// <summary>The OpenMP wait policy libgomp sees (the process's native environment), or null when none is set.</summary>
    public static string? WaitPolicy => OperatingSystem.IsWindows() ? Environment.GetEnvironmentVariable(WaitPolicyVariable)
        : Marshal.PtrToStringUTF8(getenv(WaitPolicyVariable));

    [DllImport("libc", SetLastError = true)]
    static extern int setenv(string name, string value, int overwrite);

    [DllImport("libc")]
    static extern IntPtr getenv(string name);

    [DllImport("libc")]
    static extern int mallopt(int parameter, int value);
}
