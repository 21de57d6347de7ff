using System.Diagnostics;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using StepDpo.Stages;

namespace StepDpo.Build.Tests;

/// <summary>The stage list is <see cref="StageCatalog"/>'s: build.sh's targets, build/Build.proj's stage targets, the
/// MSBuild plugin's targets and the CLI's stage commands name exactly its stages, in its order.</summary>
public class StageListTests
{
    static readonly IReadOnlyList<string> Stages = StageCatalog.Names;
    static string Pascal(string stage) => char.ToUpperInvariant(stage[0]) + stage[1..];
    static string RepoFile(string path) => Path.Combine(MsBuildTargetsTests.Repo(), path);
    static XNamespace Ns(XDocument d) => d.Root!.Name.Namespace;

    [Fact]
    public void Build_sh_accepts_and_lists_a_target_per_stage()
    {
        string script = File.ReadAllText(RepoFile("build.sh"));
        var accepted = Regex.Match(script, @"case ""\$target"" in\s*\n\s*([A-Za-z|]+)\)").Groups[1].Value.Split('|');
        var usage = Regex.Match(script, @"\n  ((?:[A-Z][a-z]+ ?)+)\n\s+run the experiment up to that stage").Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var stageTargets = Stages.Select(Pascal).ToList();
        Assert.Equal(stageTargets, usage);
        Assert.Equal(stageTargets, accepted.Where(stageTargets.Contains));
        Assert.Equal(stageTargets, accepted.SkipWhile(t => t != stageTargets[0]).Take(stageTargets.Count));
    }

    [Fact]
    public void Build_proj_has_a_target_per_stage_that_runs_the_plugins()
    {
        var doc = XDocument.Load(RepoFile("build/Build.proj"));
        var stageTargets = doc.Descendants(Ns(doc) + "Target")
            .Where(t => ((string?)t.Attribute("DependsOnTargets") ?? "").Contains(";StepDpo"))
            .Select(t => ((string)t.Attribute("Name")!, (string)t.Attribute("DependsOnTargets")!)).ToList();
        Assert.Equal(Stages.Select(s => (Pascal(s), $"Compile;StepDpo{Pascal(s)}")), stageTargets);
    }

    [Fact]
    public void The_msbuild_plugin_has_a_target_per_stage_that_runs_the_graph_up_to_it()
    {
        var doc = XDocument.Load(RepoFile("src/StepDpo.Build/build/StepDpo.Build.targets"));
        var ns = Ns(doc);
        var stageTargets = doc.Descendants(ns + "Target").Where(t => (string)t.Attribute("Name")! != "StepDpoRun")
            .Select(t => ((string)t.Attribute("Name")!, (string?)t.Element(ns + "MSBuild")?.Attribute("Properties"))).ToList();
        Assert.Equal(Stages.Select(s => ($"StepDpo{Pascal(s)}", (string?)$"StepDpoUntil={s}")), stageTargets);
    }

    [Fact]
    public void The_cli_has_a_command_per_stage()
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "stepdpo.dll"));
        psi.ArgumentList.Add("--help");
        using var p = Process.Start(psi)!;
        string help = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        var commands = Regex.Matches(help, @"^\s{4}([a-z]+)\b", RegexOptions.Multiline).Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(Stages, commands.Where(Stages.Contains));
        foreach (var stage in Stages) Assert.Contains($"run the stage graph up to the {stage} stage", help);
    }
}
