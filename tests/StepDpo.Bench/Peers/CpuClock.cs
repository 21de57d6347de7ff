using System.Runtime.InteropServices;

namespace StepDpo.Bench.Peers;

/// <summary>CPU seconds this process has run (all threads), from clock_gettime(CLOCK_PROCESS_CPUTIME_ID): on a machine
/// shared with other work the wall clock also counts the time the neighbours held the cores, the CPU clock only ours.</summary>
static partial class CpuClock
{
    [StructLayout(LayoutKind.Sequential)]
    struct TimeSpec { public long Seconds, Nanoseconds; }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out TimeSpec time);

    const int ProcessCpuTime = 2;

    public static double Now() => ClockGetTime(ProcessCpuTime, out var t) == 0 ? t.Seconds + t.Nanoseconds * 1e-9
        : throw new InvalidOperationException("clock_gettime(CLOCK_PROCESS_CPUTIME_ID) failed");
}
