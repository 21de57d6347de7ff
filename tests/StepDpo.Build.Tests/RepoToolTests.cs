using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Xml.Linq;

namespace StepDpo.Build.Tests;

/// <summary>`dotnet stepdpo` in a clone: the launcher of build/RepoTool (the repository's local tool) runs the clone's
/// recorded build with the same arguments and exit code. Built and run here for real; `./build.sh Compile` packs and
/// restores it.</summary>
public class RepoToolTests
{
    static string Repo() => MsBuildTargetsTests.Repo();

    static (int Exit, string Stdout, string Stderr) Run(string file, string workingDirectory, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        string stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result, stderr);
    }

    static readonly Lazy<string> Launcher = new(() =>
    {
        string output = Path.Combine(Path.GetTempPath(), "stepdpo-repotool", Guid.NewGuid().ToString("N"));
        var build = Run("dotnet", Repo(), "build", "build/RepoTool", "-c", "Release", "-nologo", "-v:q", "-o", output);
        Assert.True(build.Exit == 0, build.Stdout + build.Stderr);
        return Path.Combine(output, "StepDpo.RepoTool.dll");
    });

    /// <summary>A folder that looks like a clone: the solution, the tool's project folder, and optionally a recorded build.</summary>
    static string Clone(string? recordedCli)
    {
        string clone = Path.Combine(Path.GetTempPath(), "stepdpo-clone", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(clone, "src", "StepDpo.Cli"));
        File.WriteAllText(Path.Combine(clone, "StepDpo.sln"), "");
        if (recordedCli is not null)
        {
            Directory.CreateDirectory(Path.Combine(clone, "artifacts", "tool"));
            File.WriteAllText(Path.Combine(clone, "artifacts", "tool", "cli.txt"), recordedCli + "\n");
        }
        return clone;
    }

    [Fact]
    public void The_launcher_runs_the_recorded_build_with_the_same_arguments_and_exit_code()
    {
        string clone = Clone(Path.Combine(AppContext.BaseDirectory, "stepdpo.dll"));
        var ok = Run("dotnet", Path.Combine(clone, "src"), Launcher.Value, "manifest", "validate", "--experiment", "tiny-ci");
        Assert.True(ok.Exit == 0, ok.Stderr);
        Assert.Equal("ok tiny-ci: shipped:experiments/tiny-ci.yaml <- shipped:experiments/tiny.yaml\n", ok.Stdout);
        var bad = Run("dotnet", clone, Launcher.Value, "plan", "--experiment", "no-such-experiment");
        Assert.Equal(2, bad.Exit);
        Assert.StartsWith("error: unknown experiment 'no-such-experiment'", bad.Stderr);
    }

    [Fact]
    public void Outside_a_clone_or_before_a_build_it_says_what_to_do()
    {
        var unbuilt = Run("dotnet", Clone(null), Launcher.Value, "--version");
        Assert.Equal(2, unbuilt.Exit);
        Assert.Contains("the tool is not built in", unbuilt.Stderr);
        Assert.Contains("run ./build.sh Compile there", unbuilt.Stderr);
        var outside = Run("dotnet", Path.GetTempPath(), Launcher.Value, "--version");
        Assert.Equal(2, outside.Exit);
        Assert.Contains("not inside a clone of the StepDpo repository", outside.Stderr);
    }

    [Fact]
    public void The_tool_manifest_names_the_launcher_package_and_version()
    {
        var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(Repo(), ".config", "dotnet-tools.json")))!["tools"]!.AsObject();
        var project = XDocument.Load(Path.Combine(Repo(), "build", "RepoTool", "StepDpo.RepoTool.csproj")).Descendants();
        string id = project.Single(e => e.Name.LocalName == "PackageId").Value;
        string version = project.Single(e => e.Name.LocalName == "Version").Value;
        var (name, tool) = Assert.Single(manifest);
        Assert.Equal(id.ToLowerInvariant(), name);
        Assert.Equal(version, tool!["version"]!.GetValue<string>());
        Assert.Equal("stepdpo", Assert.Single(tool["commands"]!.AsArray())!.GetValue<string>());
        Assert.Contains($"StepDpo.RepoTool.{version}.nupkg", File.ReadAllText(Path.Combine(Repo(), "build", "Build.proj")));
    }
}
