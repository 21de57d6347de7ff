using System.Diagnostics;
using System.Text.Json.Nodes;

namespace StepDpo.Cli.Tests;

/// <summary>
/// `kill -9` inside every stage, through the real tool: the stage is killed when its first records (or first
/// checkpoint) appear, killed again later in the resumed run, then run to the end; its artifact must be byte for byte
/// the one of an uninterrupted run (stage.json but for times and provenance, the trainers' metrics but for
/// tokens_per_second), and no partial folder may be left. A last case leaves everything but the stage's final files
/// in the partial folder, as a kill just before the end would. The experiments are Fixtures/kill.yaml (tiny-ci made
/// small: sft, sample, verify, pairs) and kill-train.yaml (train and evaluate on pairs of a real tiny run, with kill's
/// sft from the store).
/// </summary>
public sealed class StageKillTests : IClassFixture<StageKillTests.Baseline>
{
    /// <summary>One uninterrupted run of both experiments; every case starts from a copy of its store.</summary>
    public sealed class Baseline
    {
        public string Workspace { get; } = KillWorkspace();
        public Dictionary<string, string> Dirs { get; } = new();

        public Baseline()
        {
            foreach (var (experiment, command) in new[] { ("kill", "pairs"), ("kill-train", "eval") })
            {
                var r = Cli.Run(Workspace, command, "--experiment", experiment, "--log-format", "msbuild");
                Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
                foreach (var s in JsonNode.Parse(Cli.Run(Workspace, "plan", "--experiment", experiment, "--json").Stdout)!["stages"]!.AsArray())
                    if (s!["status"]!.GetValue<string>() == "cached") Dirs.TryAdd(s["name"]!.GetValue<string>(), s["dir"]!.GetValue<string>());
            }
        }
    }

    /// <summary>The stage's experiment and command, and the file whose growth marks the kill moments.</summary>
    static readonly Dictionary<string, (string Experiment, string Command, string Progress)> Stages = new()
    {
        ["sft"] = ("kill", "sft", "checkpoint-*"),
        ["sample"] = ("kill", "sample", "samples.jsonl"),
        ["verify"] = ("kill", "verify", "verified.jsonl"),
        ["pairs"] = ("kill", "pairs", "rectified.jsonl"),
        ["train"] = ("kill-train", "train", "checkpoint-*"),
        ["evaluate"] = ("kill-train", "eval", "results.jsonl"),
    };

    /// <summary>What a run writes last (after its records or its last checkpoint).</summary>
    static readonly Dictionary<string, string[]> FinalFiles = new()
    {
        ["sft"] = ["final", "stage.json"],
        ["sample"] = ["stage.json"],
        ["verify"] = ["stage.json"],
        ["pairs"] = ["pairs.jsonl", "stage.json"],
        ["train"] = ["final", "stage.json"],
        ["evaluate"] = ["summary.json", "stage.json"],
    };

    public static TheoryData<string> StageNames() => new(Stages.Keys);

    readonly Baseline baseline;
    public StageKillTests(Baseline baseline) => this.baseline = baseline;

    /// <summary>A workspace with the baseline's store but the stage's artifact, and where that artifact goes.</summary>
    (string Expected, string Workspace, string Dir) Fresh(string stage)
    {
        string expected = baseline.Dirs[stage];
        string ws = CopyWithout(stage);
        return (expected, ws, Path.Combine(ws, Path.GetRelativePath(baseline.Workspace, expected)));
    }

    [Theory]
    [MemberData(nameof(StageNames))]
    public void A_stage_killed_twice_resumes_to_the_bytes_of_an_uninterrupted_run(string stage)
    {
        var (experiment, command, progress) = Stages[stage];
        var (expected, ws, dir) = Fresh(stage);
        int total = Progress(expected, progress);
        Assert.True(total >= 4, $"{stage}: the baseline wrote only {total} records/steps, too few to kill in between");

        KillWhen(ws, stage, command, experiment, dir, atLeast: 1);
        int afterFirst = Progress(dir + ".partial", progress);
        // later, in the resumed run, with at least two records or steps still to go
        KillWhen(ws, stage, command, experiment, dir, atLeast: Math.Min(Math.Max(afterFirst + 1, total / 2), total - 2));

        var r = Cli.Run(ws, command, "--experiment", experiment);
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        AssertSameArtifact(expected, dir);
        Assert.Empty(Directory.GetDirectories(Path.Combine(ws, "artifacts", "store"), "*.partial", SearchOption.AllDirectories));
    }

    [Theory]
    [MemberData(nameof(StageNames))]
    public void A_stage_killed_after_its_last_record_or_checkpoint_finishes_to_the_same_bytes(string stage)
    {
        var (experiment, command, _) = Stages[stage];
        var (expected, ws, dir) = Fresh(stage);
        CopyDirectory(expected, dir + ".partial");
        foreach (var name in FinalFiles[stage])
        {
            string path = Path.Combine(dir + ".partial", name);
            if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
            else { Assert.True(File.Exists(path), path); File.Delete(path); }
        }

        var r = Cli.Run(ws, command, "--experiment", experiment);
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        AssertSameArtifact(expected, dir);
        Assert.False(Directory.Exists(dir + ".partial"));
    }

    /// <summary>Starts the stage and kills it (SIGKILL) once its partial folder holds at least
    /// <paramref name="atLeast"/> records or checkpoints; the stage must not have finished by then.</summary>
    static void KillWhen(string ws, string stage, string command, string experiment, string dir, int atLeast)
    {
        string partial = dir + ".partial";
        string progress = Stages[stage].Progress;
        using var child = Cli.Start(ws, command, "--experiment", experiment, "--log-format", "plain");
        var output = child.StandardOutput.ReadToEndAsync();
        var errors = child.StandardError.ReadToEndAsync();
        var clock = Stopwatch.StartNew();
        while (!child.HasExited && Progress(partial, progress) < atLeast)
        {
            if (clock.Elapsed > TimeSpan.FromMinutes(10)) break;   // a hang, not slowness: the stage takes seconds here
            Thread.Sleep(10);
        }
        bool killed = !child.HasExited;
        if (killed) child.Kill();
        child.WaitForExit();
        Assert.True(killed && !Directory.Exists(dir),
            $"{stage}: the run ended before it wrote {atLeast} records/checkpoints (exit {child.ExitCode}, {clock.Elapsed.TotalSeconds:F0}s)\n{output.Result}{errors.Result}");
        Assert.True(Directory.Exists(partial), $"{stage}: killed, but no {partial}");
    }

    /// <summary>Complete JSONL lines of a records file, or the step of the newest checkpoint (written whole, by rename;
    /// older ones are deleted).</summary>
    static int Progress(string dir, string pattern)
    {
        if (!Directory.Exists(dir)) return 0;
        if (pattern.EndsWith('*'))
            return Directory.GetDirectories(dir, pattern).Select(d => int.TryParse(Path.GetFileName(d)[(pattern.Length - 1)..], out int step) ? step : 0)
                .DefaultIfEmpty(0).Max();
        string file = Path.Combine(dir, pattern);
        if (!File.Exists(file)) return 0;
        using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return bytes.Count(b => b == (byte)'\n');
    }

    /// <summary>A workspace with the baseline's artifacts but the stage's (and without the reference log-prob cache,
    /// which a killed train must be able to rebuild).</summary>
    string CopyWithout(string stage)
    {
        string ws = KillWorkspace();
        foreach (var (name, dir) in baseline.Dirs)
            if (name != stage)
                CopyDirectory(dir, Path.Combine(ws, Path.GetRelativePath(baseline.Workspace, dir)));
        return ws;
    }

    static string KillWorkspace()
    {
        string ws = Cli.TempWorkspace();
        string fixtures = Path.Combine(AppContext.BaseDirectory, "Fixtures");
        foreach (var f in new[] { "kill.yaml", "kill-train.yaml" }) File.Copy(Path.Combine(fixtures, f), Path.Combine(ws, "experiments", f));
        File.Copy(Path.Combine(fixtures, "tiny-pairs.jsonl"), Path.Combine(ws, "tiny-pairs.jsonl"));
        return ws;
    }

    static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var f in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
        {
            string target = Path.Combine(to, Path.GetRelativePath(from, f));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(f, target);
        }
    }

    /// <summary>Every file equal, byte for byte, except what records time or where and when it ran.</summary>
    static void AssertSameArtifact(string expected, string actual)
    {
        var files = Directory.GetFiles(expected, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(expected, f)).Order().ToList();
        Assert.Equal(files, Directory.GetFiles(actual, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(actual, f)).Order().ToList());
        foreach (var f in files)
        {
            byte[] a = File.ReadAllBytes(Path.Combine(expected, f)), b = File.ReadAllBytes(Path.Combine(actual, f));
            string name = Path.GetFileName(f);
            if (name == "stage.json") Assert.Equal(StageJsonWithoutTimes(a), StageJsonWithoutTimes(b));
            else if (name is "metrics.jsonl" or "metrics.csv") Assert.Equal(WithoutThroughput(a), WithoutThroughput(b));
            else Assert.True(a.AsSpan().SequenceEqual(b), $"{f} differs from the uninterrupted run's");
        }
    }

    static string StageJsonWithoutTimes(byte[] json)
    {
        var node = JsonNode.Parse(json)!.AsObject();
        foreach (var field in new[] { "started", "finished", "duration_seconds", "tool_version", "git_commit", "machine" }) node.Remove(field);
        node["counters"]!.AsObject().Remove("final_tokens_per_second");
        foreach (var output in node["outputs"]!.AsArray())
            if (output!["path"]!.GetValue<string>() is "metrics.jsonl" or "metrics.csv") output.AsObject().Remove("bytes");
        return node.ToJsonString();
    }

    /// <summary>metrics.jsonl/csv with the tokens_per_second values (a timing) blanked.</summary>
    static string WithoutThroughput(byte[] text)
    {
        var lines = System.Text.Encoding.UTF8.GetString(text).Split('\n');
        if (lines[0].StartsWith('{'))
            return string.Join('\n', lines.Select(l => l.Length == 0 ? l : RemoveField(l)));
        int column = Array.IndexOf(lines[0].Split(','), "tokens_per_second");
        return string.Join('\n', lines.Select(l => l.Length == 0 ? l : string.Join(',', l.Split(',').Select((v, i) => i == column ? "" : v))));
    }

    static string RemoveField(string jsonLine)
    {
        var o = JsonNode.Parse(jsonLine)!.AsObject();
        o.Remove("tokens_per_second");
        return o.ToJsonString();
    }
}
