using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace StepDpo.Bench.Probes;

/// <summary>
/// Peak memory of one piece of work in a fresh process. In a warm process freed tensors stay in the allocator's arenas
/// and earlier work sets the high-water mark, so each measurement runs this benchmark program again as a child
/// (`probe SCENARIO key=value ...`), which reads /proc/self/status: VmRSS once the runtime and libtorch are loaded
/// (the baseline) and VmHWM at the end. What the work itself needed is the difference.
/// </summary>
public static class MemoryProbe
{
    public static long StatusKb(string key) =>
        long.Parse(File.ReadLines("/proc/self/status").First(l => l.StartsWith(key + ":"))[(key.Length + 1)..].Trim().Split(' ')[0],
            CultureInfo.InvariantCulture);

    /// <summary>glibc serves freed blocks below a threshold that grows with use (up to 32 MB) from its arenas and keeps them
    /// resident; with a fixed 1 MB threshold every tensor above it is mapped and unmapped with its own pages, so the peak
    /// RSS follows the tensors alive at once (what the memory plan counts). The default shows what a CPU run really holds.</summary>
    public const string TensorsOnly = "1048576";

    /// <summary>Runs scenario <paramref name="scenario"/> in a child process and returns what it reported
    /// (baseline_mb, peak_mb, and the scenario's own numbers). The child's stderr passes through.
    /// <paramref name="mmapThreshold"/>: glibc's MALLOC_MMAP_THRESHOLD_ for the child (null: glibc's default).</summary>
    public static Dictionary<string, double> Run(string scenario, string? mmapThreshold, params (string Key, object Value)[] settings)
    {
        var psi = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true };
        if (mmapThreshold is not null) psi.Environment["MALLOC_MMAP_THRESHOLD_"] = mmapThreshold;
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet") psi.ArgumentList.Add(Assembly.GetEntryAssembly()!.Location);
        psi.ArgumentList.Add("probe");
        psi.ArgumentList.Add(scenario);
        foreach (var (key, value) in settings) psi.ArgumentList.Add($"{key}={Convert.ToString(value, CultureInfo.InvariantCulture)}");
        using var child = Process.Start(psi)!;
        string output = child.StandardOutput.ReadToEnd();
        child.WaitForExit();
        string? last = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault();
        if (child.ExitCode != 0 || last is null || !last.StartsWith('{'))
            throw new InvalidOperationException($"probe {scenario} failed (exit {child.ExitCode}):\n{output}");
        return JsonSerializer.Deserialize<Dictionary<string, double>>(last)!;
    }

    /// <summary>The child's last line: its numbers plus baseline and peak resident memory in MB.</summary>
    public static void Report(long baselineKb, Dictionary<string, double> numbers)
    {
        numbers["baseline_mb"] = baselineKb / 1024.0;
        numbers["peak_mb"] = (StatusKb("VmHWM") - baselineKb) / 1024.0;
        Console.Out.WriteLine(JsonSerializer.Serialize(numbers));
    }

    /// <summary>CPU seconds (user + system) this process has used: on a shared machine the wall clock measures the
    /// neighbours too, the CPU time measures the work.</summary>
    public static double CpuSeconds()
    {
        using var p = Process.GetCurrentProcess();
        return p.TotalProcessorTime.TotalSeconds;
    }

    [StructLayout(LayoutKind.Sequential)]
    struct MallInfo2 { public nuint Arena, OrdBlks, SmBlks, HBlks, HBlkHd, UsmBlks, FsmBlks, UordBlks, FordBlks, KeepCost; }
    [DllImport("libc")] static extern MallInfo2 mallinfo2();

    /// <summary>Bytes malloc has handed out and not got back (mapped blocks + arena blocks in use), in MB: the tensors
    /// alive now, whatever the allocator keeps resident.</summary>
    public static double LiveMb()
    {
        var m = mallinfo2();
        return (double)(m.HBlkHd + m.UordBlks) / 1048576;
    }

    public static string LoadAverage() => File.Exists("/proc/loadavg")
        ? string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "?";
}
