using System.Text.Json;

namespace StepDpo.Cli.Tests;

public class LocateCommandTests
{
    static string Samples => Path.Combine(Cli.RepoRoot, "tests", "StepDpo.Stages.Tests", "Fixtures", "qwen2.5-7b-math-responses.jsonl");

    [Fact]
    public void Scores_monte_carlo_localisation_on_labelled_samples_and_writes_json()
    {
        var dir = Directory.CreateTempSubdirectory("stepdpo-locate-").FullName;
        try
        {
            string json = Path.Combine(dir, "locate.json");
            var r = Cli.Run(dir, "locate", "--samples", Samples, "--out", json);
            Assert.True(r.ExitCode == 0, r.Stderr);
            Assert.Contains("## qwen2.5-7b-math-responses.jsonl: 150 responses, 148 scored against step_labels", r.Stdout);
            Assert.Contains("| rollout (>= 1 of 8 right), binary search | step_labels | ", r.Stdout);
            using var doc = JsonDocument.Parse(File.ReadAllText(json));
            var rows = doc.RootElement[0].GetProperty("rows");
            Assert.Equal(8, rows.GetArrayLength());
            Assert.All(rows.EnumerateArray(), row => Assert.Equal(148, row.GetProperty("errors").GetInt32() + row.GetProperty("correct").GetInt32()));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void An_experiment_without_a_scored_verify_stage_is_told_what_to_do()
    {
        string ws = Cli.TempWorkspace();
        try
        {
            var rule = Cli.Run(ws, "locate", "-e", "tiny");
            Assert.NotEqual(0, rule.ExitCode);
            Assert.Contains("verify.method is 'rule'", rule.Stdout + rule.Stderr);
            var pending = Cli.Run(ws, "locate", "-e", "tiny-rollout");
            Assert.NotEqual(0, pending.ExitCode);
            Assert.Contains("run `dotnet stepdpo verify -e tiny-rollout` first", pending.Stdout + pending.Stderr);
            var missing = Cli.Run(ws, "locate", "--samples", Path.Combine(ws, "nope.jsonl"));
            Assert.Contains("no such file or folder", missing.Stdout + missing.Stderr);
        }
        finally { Directory.Delete(ws, true); }
    }
}
