using System.Text.RegularExpressions;
using System.Diagnostics;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

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

    static (int Exit, string Output) MsBuild(string target, string experiment, string? toolCommand = null, string targets = "")
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
                <StepDpoToolCommand>{toolCommand ?? $"dotnet \"{bin}stepdpo.dll\""}</StepDpoToolCommand>
                <StepDpoExperiment>{experiment}</StepDpoExperiment>
              </PropertyGroup>
              <Import Project="{Repo()}/src/StepDpo.Build/build/StepDpo.Build.targets" />
              {targets}
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
    public void A_stage_target_runs_the_stages_before_it_and_reports_each_once()
    {
        var (exit, output) = MsBuild("StepDpoVerify", "qwen2-72b");
        Assert.True(exit == 0, output);
        // One tool process: every stage is reported once (a process per stage would report sft three times).
        Assert.Single(Regex.Matches(output, "sft       skipped: no sft section"));
        Assert.Single(Regex.Matches(output, "sample    skipped: pairs.from is set"));
        Assert.Single(Regex.Matches(output, "verify    skipped: pairs.from is set"));
        Assert.DoesNotMatch(@"\n\s+pairs\s+(running|skipped|done)", output); // up to verify: pairs is not asked for
    }

    [Fact]
    public void A_failing_stage_fails_the_build_with_the_tools_message()
    {
        var (exit, output) = MsBuild("StepDpoVerify", "no-such-experiment");
        Assert.NotEqual(0, exit);
        Assert.Contains("error : verify: error: unknown experiment 'no-such-experiment'", output);
    }

    /// <summary>A stand-in tool that logs its arguments and answers as the real one does in msbuild format: the targets
    /// start it once for the whole graph, log each stage, and return the metrics with the stage that produced them.</summary>
    [Fact]
    public void One_tool_process_runs_the_graph_and_the_targets_return_each_stages_metrics()
    {
        string dir = Path.Combine(Path.GetTempPath(), "stepdpo-msbuild-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        string calls = Path.Combine(dir, "calls.txt"), tool = Path.Combine(dir, "tool.sh");
        File.WriteAllText(tool, $$"""
            echo "$@" >> '{{calls}}'
            echo "stepdpo: stage=sft status=cached dir=/store/sft/1 message=cached"
            echo "stepdpo: stage=sample status=started dir=/store/sample/2.partial message=running"
            echo "stepdpo: stage=sample status=completed dir=/store/sample/2 message=done in 1.0s"
            echo "stepdpo: stage=evaluate status=completed dir=/store/evaluate/3 message=done in 2.0s"
            echo "stepdpo: metric trained.test.accuracy=0.5"
            echo "stepdpo: metric delta.test.accuracy=0.125"
            echo "stepdpo: stage=report status=cached dir=/store/report/4 message=cached"
            """);
        var (exit, output) = MsBuild("Show", "tiny", $"sh {tool}", """
            <Target Name="Show" DependsOnTargets="StepDpoReport">
              <Message Importance="high" Text="metrics: @(StepDpoMetric->'%(Identity)=%(Value) from %(Stage)', ', ')" />
            </Target>
            """);
        Assert.True(exit == 0, output);
        Assert.Equal(["run --experiment tiny --until report --log-format msbuild"], File.ReadAllLines(calls));
        Assert.Contains("sft       skipped (cached) /store/sft/1", output);
        Assert.Contains("sample    running", output);
        Assert.Contains("sample    done in 1.0s -> /store/sample/2", output);
        Assert.Contains("metrics: trained.test.accuracy=0.5 from evaluate, delta.test.accuracy=0.125 from evaluate", output);
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
