using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace StepDpo.Torch.Devices;

/// <summary>
/// libtorch's CPU kernels run on OpenMP (libgomp), whose worker threads spin between parallel regions by default. On a
/// machine shared with other work the spinning threads take the cores the working ones need: measured on the 2-core CI
/// machine at load average 6-9, 100 SFT steps of the tiny model took 76-344 s with the default policy and 18-26 s with
/// OMP_WAIT_POLICY=PASSIVE (threads sleep instead). libgomp reads the variable once, when libtorch is loaded, so it is set
/// here, before any TorchSharp call of this assembly, and only when the user has not chosen a policy.
/// </summary>
public static class ThreadWaitPolicy
{
    public const string Variable = "OMP_WAIT_POLICY";

    /// <summary>Call first thing in a process that will load libtorch through another assembly (the CLI does).</summary>
    public static void Apply() { }

    // CA2255 warns libraries off module initializers; this one must run before anything in the process loads libtorch,
    // whichever assembly loads it first, which only a module initializer guarantees.
#pragma warning disable CA2255
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Initialize()
    {
        if (OperatingSystem.IsWindows() || Environment.GetEnvironmentVariable(Variable) is not null) return;
        // Environment.SetEnvironmentVariable changes only .NET's copy on Unix; the native loader reads libc's.
        _ = setenv(Variable, "PASSIVE", 0);
    }

    /// <summary>The policy libgomp sees (the process's native environment), or null when none is set.</summary>
    public static string? Current => OperatingSystem.IsWindows() ? Environment.GetEnvironmentVariable(Variable)
        : Marshal.PtrToStringUTF8(getenv(Variable));

    [DllImport("libc", SetLastError = true)]
    static extern int setenv(string name, string value, int overwrite);

    [DllImport("libc")]
    static extern IntPtr getenv(string name);
}
