using System.Diagnostics;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;
using StepDpo.Build;

namespace StepDpo.Build.Tests;

/// <summary>The StepDpo MSBuild targets as a consumer project uses them: a real `dotnet msbuild` running the real tool.</summary>
public class MsBuildTargetsTests
{
    internal static string Repo()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "StepDpo.sln"))) return d.FullName;
        throw new InvalidOperationException("repository root not found");
    }

    static (int Exit, string Output) MsBuild(string target, string experiment)
    {
        string bin = AppContext.BaseDirectory;
        string ws = Path.Combine(Path.GetTempPath(), "stepdpo-msbuild-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(ws, "experiments"));
        foreach (var f in Directory.GetFiles(Path.Combine(Repo(), "experiments"), "*.yaml"))
            File.Copy(f, Path.Combine(ws, "experiments", Path.GetFileName(f)));
        File.WriteAllText(Path.Combine(ws, "consumer.proj"), $"""
            <Project>
              <PropertyGroup>
                <StepDpoTasksAssembly>{bin}StepDpo.Build.dll</StepDpoTasksAssembly>
                <StepDpoToolCommand>dotnet "{bin}stepdpo.dll"</StepDpoToolCommand>
                <StepDpoExperiment>{experiment}</StepDpoExperiment>
              </PropertyGroup>
              <Import Project="{Repo()}/src/StepDpo.Build/build/StepDpo.Build.targets" />
            </Project>
            """);
        var psi = new ProcessStartInfo("dotnet", $"msbuild consumer.proj -nologo -tl:off -v:m -t:{target}")
        {
            WorkingDirectory = ws, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        using var p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output);
    }

    [Fact]
    public void Stage_targets_chain_and_report_skipped_stages()
    {
        var (exit, output) = MsBuild("StepDpoVerify", "qwen2-72b");
        Assert.True(exit == 0, output);
        Assert.Contains("sft       skipped: no sft section", output);
        Assert.Contains("sample    skipped: pairs.from is set", output);
        Assert.Contains("verify    skipped: pairs.from is set", output);
    }

    [Fact]
    public void A_failing_stage_fails_the_build_with_the_tools_message()
    {
        var (exit, output) = MsBuild("StepDpoVerify", "no-such-experiment");
        Assert.NotEqual(0, exit);
        Assert.Contains("error : sft: error: unknown experiment 'no-such-experiment'", output);
    }

    [Fact]
    public void Event_lines_parse_with_paths_and_messages_containing_spaces()
    {
        var f = StepDpoStage.ParseFields("stage=train status=completed dir=/a b/c message=done in 3.5s");
        Assert.Equal("train", f["stage"]);
        Assert.Equal("completed", f["status"]);
        Assert.Equal("/a b/c", f["dir"]);
        Assert.Equal("done in 3.5s", f["message"]);
    }

    [Fact]
    public void Gate_fails_on_a_metric_below_its_threshold_and_passes_otherwise()
    {
        static ITaskItem Metric(string name, string value) { var i = new TaskItem(name); i.SetMetadata("Value", value); return i; }
        static ITaskItem Min(string name, string min) { var i = new TaskItem(name); i.SetMetadata("Min", min); return i; }
        var engine = new RecordingEngine();
        var gate = new StepDpoGate
        {
            BuildEngine = engine,
            Metrics = new[] { Metric("trained.test.accuracy", "0.61"), Metric("delta.test.accuracy", "0.05") },
            Thresholds = new[] { Min("trained.test.accuracy", "0.6"), Min("delta.test.accuracy", "0.1") },
        };
        Assert.False(gate.Execute());
        Assert.Equal(new[] { "delta.test.accuracy = 0.05 is below 0.1" }, engine.Errors);
        var passing = new StepDpoGate
        {
            BuildEngine = new RecordingEngine(),
            Metrics = gate.Metrics,
            Thresholds = new[] { Min("trained.test.accuracy", "0.6") },
        };
        Assert.True(passing.Execute());
    }

    sealed class RecordingEngine : IBuildEngine
    {
        public List<string> Errors { get; } = new();
        public void LogErrorEvent(BuildErrorEventArgs e) => Errors.Add(e.Message!);
        public void LogWarningEvent(BuildWarningEventArgs e) { }
        public void LogMessageEvent(BuildMessageEventArgs e) { }
        public void LogCustomEvent(CustomBuildEventArgs e) { }
        public bool BuildProjectFile(string projectFileName, string[] targetNames, System.Collections.IDictionary globalProperties, System.Collections.IDictionary targetOutputs) => true;
        public bool ContinueOnError => false;
        public int LineNumberOfTaskNode => 0;
        public int ColumnNumberOfTaskNode => 0;
        public string ProjectFileOfTaskNode => "test";
    }
}
