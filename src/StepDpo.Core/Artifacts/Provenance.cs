using System.Diagnostics;
using System.Reflection;

namespace StepDpo.Core.Artifacts;

/// <summary>Who made an artifact: tool version, git commit of the workspace, machine.</summary>
public static class Provenance
{
    public static string ToolVersion { get; } =
        typeof(Provenance).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion?.Split('+')[0] ?? "0.0.0";

    static readonly Dictionary<string, string> Commits = new();

    /// <summary>HEAD of the git checkout holding <paramref name="dir"/> ("+dirty" when tracked files changed), or "unknown".</summary>
    public static string GitCommit(string dir)
    {
        lock (Commits)
        {
            if (Commits.TryGetValue(dir, out var c)) return c;
            string head = Git(dir, "rev-parse HEAD") ?? "unknown";
            if (head != "unknown" && !string.IsNullOrEmpty(Git(dir, "status --porcelain --untracked-files=no"))) head += "+dirty";
            return Commits[dir] = head;
        }
    }

    static string? Git(string dir, string args)
    {
        try
        {
            var psi = new ProcessStartInfo("git", args)
            {
                WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            };
            using var p = Process.Start(psi)!;
            string output = p.StandardOutput.ReadToEnd().Trim();
            p.WaitForExit(10_000);
            return p.ExitCode == 0 ? output : null;
        }
        catch (Exception) { return null; } // no git on this machine: provenance says "unknown"
    }

    public static object Machine() => new
    {
        os = System.Runtime.InteropServices.RuntimeInformation.OSDescription,
        arch = System.Runtime.InteropServices.RuntimeInformation.OSArchitecture.ToString(),
        cpus = Environment.ProcessorCount,
        memory_gb = Math.Round(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1024.0 * 1024 * 1024), 1),
        dotnet = Environment.Version.ToString(),
        host = Environment.MachineName,
    };
}
