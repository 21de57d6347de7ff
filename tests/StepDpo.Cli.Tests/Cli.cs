using System.Diagnostics;

namespace StepDpo.Cli.Tests;

/// <summary>Runs the real built tool (stepdpo.dll next to the tests) as a child process.</summary>
public static class Cli
{
    public static string Dll => Path.Combine(AppContext.BaseDirectory, "stepdpo.dll");

    public static string RepoRoot { get; } = FindRepo();

    static string FindRepo()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "StepDpo.sln"))) return d.FullName;
        throw new InvalidOperationException("repository root not found");
    }

    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public static Result Run(string workingDirectory, params string[] args) => Exec("dotnet", workingDirectory, new[] { Dll }.Concat(args));

    public static Result RunWith(IReadOnlyDictionary<string, string?> environment, string workingDirectory, params string[] args) =>
        Exec("dotnet", workingDirectory, new[] { Dll }.Concat(args), environment: environment);

    /// <summary>The default limit only catches a hung child: the longest run here (tiny-ci end to end) takes about
    /// 2 minutes on an idle 2-core machine and 4.5 on a busy one, so the limit is well over 3x that.</summary>
    public static Result Exec(string file, string workingDirectory, IEnumerable<string> args, int timeoutMs = 1_200_000,
        IReadOnlyDictionary<string, string?>? environment = null)
    {
        using var p = Start(file, workingDirectory, args, environment);
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeoutMs)) { p.Kill(true); throw new TimeoutException($"{file} {string.Join(' ', args)}"); }
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>The tool as a running child whose output the caller must read (or it blocks on a full pipe).
    /// libtorch gets one thread unless STEPDPO_THREADS says otherwise: test classes and assemblies run in parallel, and
    /// multi-threaded libtorch processes on a small machine spin against each other (13x slower measured on 2 cores).</summary>
    public static Process Start(string workingDirectory, params string[] args) => Start("dotnet", workingDirectory, new[] { Dll }.Concat(args));

    static Process Start(string file, string workingDirectory, IEnumerable<string> args,
        IReadOnlyDictionary<string, string?>? environment = null)
    {
        var psi = new ProcessStartInfo(file)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["CI"] = "true";
        if (Environment.GetEnvironmentVariable("STEPDPO_THREADS") is null) psi.Environment["STEPDPO_THREADS"] = "1";
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>()) psi.Environment[name] = value;
        return Process.Start(psi)!;
    }

    /// <summary>A temp workspace holding a copy of the repo's experiments (so artifacts never touch the repo).</summary>
    public static string TempWorkspace()
    {
        string root = Path.Combine(Path.GetTempPath(), "stepdpo-cli-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(root, "experiments"));
        foreach (var f in Directory.GetFiles(Path.Combine(RepoRoot, "experiments"), "*.yaml"))
            File.Copy(f, Path.Combine(root, "experiments", Path.GetFileName(f)));
        return root;
    }
}
