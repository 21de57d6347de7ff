using System.Text.Json.Nodes;

namespace StepDpo.Cli.Tests;

/// <summary>
/// The CI-sized tiny experiment, every stage, through the real tool: a tiny Qwen2 model is trained from scratch on
/// synthetic arithmetic, sampled, verified, rectified into pairs, trained with Step-DPO, evaluated and reported.
/// Structure is asserted exactly; numbers within tolerances (recorded in experiments/tiny-ci.yaml and here).
/// </summary>
public sealed class TinyCiEndToEndTests : IClassFixture<TinyCiEndToEndTests.Run>
{
    /// <summary>One run of `stepdpo run -e tiny-ci` in a temp workspace, shared by the assertions below.</summary>
    public sealed class Run
    {
        public string Workspace { get; } = Cli.TempWorkspace();
        public Cli.Result First { get; }
        public Cli.Result Second { get; }
        public JsonNode Plan { get; }

        public Run()
        {
            First = Cli.Run(Workspace, "run", "--experiment", "tiny-ci", "--log-format", "msbuild");
            Second = Cli.Run(Workspace, "run", "--experiment", "tiny-ci", "--log-format", "msbuild");
            Plan = JsonNode.Parse(Cli.Run(Workspace, "plan", "--experiment", "tiny-ci", "--json").Stdout)!;
        }

        public string Dir(string stage) =>
            Plan["stages"]!.AsArray().First(s => s!["name"]!.GetValue<string>() == stage)!["dir"]!.GetValue<string>();

        public JsonNode Counters(string stage) => JsonNode.Parse(File.ReadAllText(Path.Combine(Dir(stage), "stage.json")))!["counters"]!;
    }

    readonly Run run;
    public TinyCiEndToEndTests(Run run) => this.run = run;

    [Fact]
    public void Every_stage_completes_and_a_second_run_is_entirely_cached()
    {
        Assert.True(run.First.ExitCode == 0, run.First.Stdout + run.First.Stderr);
        foreach (var stage in new[] { "sft", "sample", "verify", "pairs", "train", "evaluate", "report" })
        {
            Assert.Contains($"stepdpo: stage={stage} status=completed", run.First.Stdout);
            Assert.Contains($"stepdpo: stage={stage} status=cached", run.Second.Stdout);
        }
        Assert.DoesNotContain("status=started", run.Second.Stdout);
        Assert.All(run.Plan["stages"]!.AsArray(), s => Assert.Equal("cached", s!["status"]!.GetValue<string>()));
    }

    [Fact]
    public void Artifacts_have_the_documented_names()
    {
        Assert.True(File.Exists(Path.Combine(run.Dir("sample"), "samples.jsonl")));
        Assert.True(File.Exists(Path.Combine(run.Dir("verify"), "verified.jsonl")));
        Assert.True(File.Exists(Path.Combine(run.Dir("pairs"), "pairs.jsonl")));
        Assert.True(File.Exists(Path.Combine(run.Dir("train"), "metrics.jsonl")));
        foreach (var f in new[] { "config.json", "model.safetensors", "tokenizer.json", "generation_config.json" })
            Assert.True(File.Exists(Path.Combine(run.Dir("train"), "final", f)), f);
        Assert.True(File.Exists(Path.Combine(run.Dir("evaluate"), "results.jsonl")));
        Assert.True(File.Exists(Path.Combine(run.Dir("report"), "report.md")));
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(run.Dir("report"), "plots"), "*.png"));
    }

    [Fact]
    public void Summary_json_has_start_and_trained_results_and_a_paired_comparison()
    {
        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(run.Dir("evaluate"), "summary.json")))!;
        var results = summary["results"]!.AsArray();
        Assert.Equal(new[] { "start", "trained" }, results.Select(r => r!["model"]!.GetValue<string>()).Order());
        foreach (var r in results)
        {
            Assert.Equal("test", r!["benchmark"]!.GetValue<string>());
            Assert.Equal(100, r["n"]!.GetValue<int>());
            double acc = r["accuracy"]!.GetValue<double>();
            var ci = r["ci95"]!.AsArray().Select(x => x!.GetValue<double>()).ToArray();
            Assert.True(ci[0] <= acc && acc <= ci[1]);
        }
        var c = Assert.Single(summary["comparisons"]!.AsArray())!;
        Assert.Equal("start", c["a"]!.GetValue<string>());
        Assert.Equal("trained", c["b"]!.GetValue<string>());
        double p = c["mcnemar_p"]!.GetValue<double>();
        Assert.InRange(p, 0, 1);
    }

    [Fact]
    public void The_data_funnel_yields_pairs_in_the_public_format()
    {
        var sample = run.Counters("sample");
        Assert.Equal(300, sample["problems"]!.GetValue<long>());
        Assert.Equal(600, sample["samples"]!.GetValue<long>());
        Assert.True(sample["wrong"]!.GetValue<long>() > 0, "the sft model should make mistakes worth fixing");
        Assert.True(run.Counters("verify")["located"]!.GetValue<long>() > 0);
        long pairs = run.Counters("pairs")["pairs"]!.GetValue<long>();
        Assert.True(pairs >= 20, $"only {pairs} pairs");
        var first = JsonNode.Parse(File.ReadLines(Path.Combine(run.Dir("pairs"), "pairs.jsonl")).First())!.AsObject();
        Assert.Equal(new[] { "prompt", "initial_reason_steps", "chosen", "rejected", "full_chosen", "full_rejected", "answer", "dataset" },
            first.Select(kv => kv.Key));
        Assert.Matches(@"Step \d+:$", first["initial_reason_steps"]!.GetValue<string>());
    }

    [Fact]
    public void Chosen_steps_are_right_steps_not_lucky_answers()
    {
        // With the rule verifier a rectified continuation must pass the rule step by step, so every chosen step's
        // arithmetic holds (answer-only rectification let about half of them through wrong: "11 + 8 = 20").
        var lines = File.ReadLines(Path.Combine(run.Dir("pairs"), "pairs.jsonl")).ToList();
        Assert.NotEmpty(lines);
        foreach (var line in lines)
        {
            string chosen = JsonNode.Parse(line)!["chosen"]!.GetValue<string>();
            var m = System.Text.RegularExpressions.Regex.Match(chosen, @"^\s*(\d+) ([-+*/]) (\d+) = (-?\d+)");
            Assert.True(m.Success, chosen);
            long a = long.Parse(m.Groups[1].Value), b = long.Parse(m.Groups[3].Value), c = long.Parse(m.Groups[4].Value);
            long? expected = m.Groups[2].Value switch { "+" => a + b, "-" => a - b, "*" => a * b, _ => b != 0 && a % b == 0 ? a / b : null };
            Assert.True(expected == c, $"chosen step with wrong arithmetic: {chosen}");
        }
        Assert.True(run.Counters("pairs")["rectification_right_answer_wrong_steps"]!.GetValue<long>() >= 0);
    }

    [Fact]
    public void Step_dpo_training_raises_reward_accuracy_and_margins()
    {
        var rows = File.ReadLines(Path.Combine(run.Dir("train"), "metrics.jsonl")).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.True(rows.Count >= 5);
        static double Mean(IEnumerable<JsonNode> rs, string k) => rs.Average(r => r[k]!.GetValue<double>());
        var early = rows.Take(3).ToList();
        var late = rows.TakeLast(3).ToList();
        Assert.True(Mean(late, "rewards/margins") > Mean(early, "rewards/margins"));
        Assert.True(Mean(late, "rewards/accuracies") >= Mean(early, "rewards/accuracies"));
    }
}
