using System.Diagnostics;
using System.Runtime.InteropServices;

namespace StepDpo.Stages.Serving;

/// <summary>Signals for a server and everything it started. A server started through <c>setsid</c> leads its own
/// process group (its pid is the group id), so vLLM's engine and worker processes, and orphans they leave, are all
/// reached by one signal to the group; a terminal's Ctrl+C, sent to our foreground group, does not reach them, so
/// the stage decides how they stop.</summary>
static partial class ProcessGroup
{
    public const int SigKill = 9, SigTerm = 15;

    /// <summary>The <c>setsid</c> program, when this system has one (util-linux); null elsewhere.</summary>
    public static string? SetsidPath { get; } = OperatingSystem.IsWindows() ? null
        : new[] { "/usr/bin/setsid", "/bin/setsid" }.FirstOrDefault(File.Exists);

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    static extern int Kill(int pid, int signal);

    /// <summary>Sends a signal to every process of the group (pid &gt; 0 is the group id). False when none is left.</summary>
    public static bool Signal(int groupId, int signal) => Kill(-groupId, signal) == 0;

    public static void SignalProcess(int pid, int signal) => Kill(pid, signal);

    /// <summary>Processes of the group that are still running (zombies, already dead, are not counted). Without /proc,
    /// the group counts as alive while a signal 0 reaches it.</summary>
    public static IReadOnlyList<int> Members(int groupId)
    {
        if (!Directory.Exists("/proc/self")) return Kill(-groupId, 0) == 0 ? [groupId] : [];
        var members = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
            if (int.TryParse(Path.GetFileName(dir), out int pid) && Stat(pid) is { Group: var g, State: not 'Z' and not 'X' } && g == groupId)
                members.Add(pid);
        return members;
    }

    /// <summary>Whether a process exists and is not a zombie (Linux /proc; elsewhere, whether a signal 0 reaches it).</summary>
    public static bool IsAlive(int pid)
    {
        if (!Directory.Exists("/proc/self")) return Kill(pid, 0) == 0;
        return Stat(pid) is { State: not 'Z' and not 'X' };
    }

    /// <summary>When the process started (clock ticks since boot, /proc/PID/stat field 22): with the pid it names one
    /// process, so a recorded pid that the system has since given to another process is not mistaken for it.</summary>
    public static long? StartTicks(int pid) => Stat(pid) is { } s ? s.StartTicks : null;

    readonly record struct ProcStat(char State, int Group, long StartTicks);

    /// <summary>/proc/PID/stat: "pid (comm) state ppid pgrp ..."; comm may hold spaces and parentheses, so the
    /// fields are read after the last ')'.</summary>
    static ProcStat? Stat(int pid)
    {
        string text;
        try { text = File.ReadAllText($"/proc/{pid}/stat"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
        int close = text.LastIndexOf(')');
        if (close < 0) return null;
        var fields = text[(close + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // After "(comm)": state is field 3, pgrp field 5, starttime field 22.
        return fields.Length > 19 && int.TryParse(fields[2], out int group) && long.TryParse(fields[19], out long start)
            ? new ProcStat(fields[0][0], group, start) : null;
    }

    /// <summary>Stops a group we did not start (a server left by a run that was killed): SIGTERM, up to
    /// <paramref name="grace"/>, then SIGKILL.</summary>
    public static void StopGroup(int groupId, TimeSpan grace)
    {
        var deadline = Stopwatch.StartNew();
        Signal(groupId, SigTerm);
        while (deadline.Elapsed < grace && Members(groupId).Count > 0) Thread.Sleep(50);
        if (Members(groupId).Count > 0) Signal(groupId, SigKill);
        var killed = Stopwatch.StartNew();
        while (killed.Elapsed < TimeSpan.FromSeconds(10) && Members(groupId).Count > 0) Thread.Sleep(20);
    }

    /// <summary>Stops a process and its group: SIGTERM, up to <paramref name="grace"/> for all of them to exit, then
    /// SIGKILL for whatever is left. Without a group of its own the process tree is killed instead.</summary>
    public static void Stop(Process process, int? groupId, TimeSpan grace)
    {
        var deadline = Stopwatch.StartNew();
        if (groupId is { } g)
        {
            // The leader itself too: stopped right after its start, it may not have made its group yet.
            bool Left() => Members(g).Count > 0 || (!process.HasExited && IsAlive(process.Id));
            Signal(g, SigTerm);
            SignalProcess(process.Id, SigTerm);
            while (deadline.Elapsed < grace && Left()) Thread.Sleep(50);
            if (Left())
            {
                Signal(g, SigKill);
                SignalProcess(process.Id, SigKill);
            }
            // SIGKILL is not refused: wait (briefly) until the kernel has taken them down.
            var killed = Stopwatch.StartNew();
            while (killed.Elapsed < TimeSpan.FromSeconds(10) && Left()) Thread.Sleep(20);
        }
        else if (!process.HasExited)
        {
            if (!OperatingSystem.IsWindows()) SignalProcess(process.Id, SigTerm);
            if (!process.WaitForExit(grace)) process.Kill(entireProcessTree: true);
        }
        // Reaps it and drains the redirected output; bounded, since an escaped descendant could hold the pipe open.
        process.WaitForExit(TimeSpan.FromSeconds(10));
    }
}
