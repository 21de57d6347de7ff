using System.Text.Json.Nodes;

namespace StepDpo.Cli.Tests;

/// <summary>
/// The CI-sized tiny experiment, every stage, through the real tool: a tiny Qwen2 model is trained from scratch on
/// synthetic arithmetic, sampled, verified, rectified into pairs, trained with Step-DPO, evaluated and reported.
/// Asserted: the outcome (the model learnt enough to make pairs and to be improved, `stepdpo check` passes the
/// manifest's `expect` and fails an impossible one), the report against the artifacts it summarises, the statistics
/// recomputed from the per-problem results, and the artifact layout.
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

        public Cli.Result Check { get; }
        public Cli.Result StrictCheck { get; }

        public Run()
        {
            // On every core, as a user's run: its SFT's micro-batches and its generation batches run several at once
            // (the artifacts are those of one core, only sooner; other tests' tools keep one thread).
            var cores = new Dictionary<string, string?> { ["STEPDPO_THREADS"] = Environment.ProcessorCount.ToString(System.Globalization.CultureInfo.InvariantCulture) };
            First = Cli.RunWith(cores, Workspace, "run", "--experiment", "tiny-ci", "--log-format", "msbuild");
            Second = Cli.RunWith(cores, Workspace, "run", "--experiment", "tiny-ci", "--log-format", "msbuild");
            Plan = JsonNode.Parse(Cli.Run(Workspace, "plan", "--experiment", "tiny-ci", "--json").Stdout)!;
            Check = Cli.Run(Workspace, "check", "--experiment", "tiny-ci");
            // The same run under another name with a threshold no tiny model reaches: its evaluation is tiny-ci's,
            // found in the shared store, and the check must fail.
            File.WriteAllText(System.IO.Path.Combine(Workspace, "experiments", "tiny-ci-strict.yaml"),
                "extends: tiny-ci.yaml\nname: tiny-ci-strict\nexpect:\n  trained.test.accuracy: {min: 0.99}\n");
            StrictCheck = Cli.Run(Workspace, "check", "--experiment", "tiny-ci-strict");
        }

        public string ArtifactFile(string stage, string name) => System.IO.Path.Combine(Dir(stage), name);

        public string Dir(string stage) =>
            Plan["stages"]!.AsArray().First(s => s!["name"]!.GetValue<string>() == stage)!["dir"]!.GetValue<string>();

        public JsonNode Counters(string stage) => JsonNode.Parse(System.IO.File.ReadAllText(ArtifactFile(stage, "stage.json")))!["counters"]!;
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
    public void The_model_learnt_enough_to_be_improved_and_check_passes_the_manifests_expect()
    {
        var summary = JsonNode.Parse(System.IO.File.ReadAllText(run.ArtifactFile("evaluate", "summary.json")))!;
        double Accuracy(string model) => summary["results"]!.AsArray().Single(r => r!["model"]!.GetValue<string>() == model)!["accuracy"]!.GetValue<double>();
        // The SFT model reads the question often enough to be right sometimes and to make pairs (an untrained one
        // scores about 0 and makes none); Step-DPO does not make it worse (tiny-ci's expect). The same SFT model scores
        // 4 of the 100 test problems with static batches and at least 5 with continuous batching (evaluation's batching
        // changes its float rounding), so the bar is 3.
        Assert.True(Accuracy("start") >= 0.03, $"start accuracy {Accuracy("start")}");
        Assert.True(Accuracy("trained") >= Accuracy("start"), $"{Accuracy("start")} -> {Accuracy("trained")}");
        Assert.True(run.Check.ExitCode == 0, run.Check.Stdout + run.Check.Stderr);
        Assert.Contains("expectations met", run.Check.Stdout);
        Assert.Contains("delta.test.accuracy", run.Check.Stdout);
        Assert.Equal(1, run.StrictCheck.ExitCode);
        Assert.Contains("trained.test.accuracy", run.StrictCheck.Stderr);
    }

    [Fact]
    public void Summary_statistics_are_those_of_the_per_problem_results()
    {
        var summary = JsonNode.Parse(System.IO.File.ReadAllText(run.ArtifactFile("evaluate", "summary.json")))!;
        var results = System.IO.File.ReadLines(run.ArtifactFile("evaluate", "results.jsonl")).Select(l => JsonNode.Parse(l)!).ToList();
        var correct = results.GroupBy(r => r["model"]!.GetValue<string>())
            .ToDictionary(g => g.Key, g => g.ToDictionary(r => r["problem_id"]!.GetValue<string>(), r => r["correct"]!.GetValue<bool>()));
        Assert.Equal(new[] { "start", "trained" }, correct.Keys.Order());
        foreach (var r in summary["results"]!.AsArray())
        {
            var byProblem = correct[r!["model"]!.GetValue<string>()];
            Assert.Equal("test", r["benchmark"]!.GetValue<string>());
            Assert.Equal(100, r["n"]!.GetValue<int>());
            Assert.Equal(byProblem.Count, r["n"]!.GetValue<int>());
            Assert.Equal(byProblem.Values.Count(c => c), r["correct"]!.GetValue<int>());
            double acc = r["accuracy"]!.GetValue<double>();
            var ci = r["ci95"]!.AsArray().Select(x => x!.GetValue<double>()).ToArray();
            Assert.True(ci[0] <= acc && acc <= ci[1] && ci[0] < ci[1], $"{acc} outside [{ci[0]}, {ci[1]}]");
        }
        var c = Assert.Single(summary["comparisons"]!.AsArray())!;
        Assert.Equal(("start", "trained"), (c["a"]!.GetValue<string>(), c["b"]!.GetValue<string>()));
        int fixedOnes = correct["start"].Count(kv => !kv.Value && correct["trained"][kv.Key]);
        int broken = correct["start"].Count(kv => kv.Value && !correct["trained"][kv.Key]);
        Assert.Equal(fixedOnes, c["b_only"]!.GetValue<int>());
        Assert.Equal(broken, c["a_only"]!.GetValue<int>());
        Assert.Equal(ExactMcNemar(fixedOnes, broken), c["mcnemar_p"]!.GetValue<double>(), 1e-12);
    }

    /// <summary>Two-sided exact McNemar p: twice the binomial(b + c, 1/2) tail of the smaller count, at most 1.</summary>
    static double ExactMcNemar(int b, int c)
    {
        int n = b + c, k = Math.Min(b, c);
        double tail = 0, term = Math.Pow(0.5, n);   // C(n, 0) / 2^n
        for (int i = 0; i <= k; i++)
        {
            tail += term;
            term = term * (n - i) / (i + 1);
        }
        return n == 0 ? 1 : Math.Min(1, 2 * tail);
    }

    [Fact]
    public void The_report_states_the_results_and_the_funnel_of_the_artifacts()
    {
        string report = System.IO.File.ReadAllText(run.ArtifactFile("report", "report.md"));
        var summary = JsonNode.Parse(System.IO.File.ReadAllText(run.ArtifactFile("evaluate", "summary.json")))!;
        string Percent(string model) => (summary["results"]!.AsArray().Single(r => r!["model"]!.GetValue<string>() == model)!["accuracy"]!
            .GetValue<double>() * 100).ToString("0.0", System.Globalization.CultureInfo.InvariantCulture) + "%";
        var comparison = summary["comparisons"]![0]!;
        Assert.Contains($"**test** (100 problems): {Percent("start")} → {Percent("trained")}", report);
        Assert.Contains($"trained alone solved {comparison["b_only"]}, start alone solved {comparison["a_only"]}", report);
        Assert.Contains("Every expectation of the manifest holds.", report);
        foreach (var (row, stage, counter) in new[] { ("problems", "sample", "problems"), ("samples", "sample", "samples"),
                     ("wrong", "sample", "wrong"), ("located", "verify", "located"), ("rectified", "pairs", "rectified"), ("pairs", "pairs", "pairs") })
            Assert.Matches($@"\| {row} \| [^|]* \| {run.Counters(stage)[counter]!.GetValue<long>().ToString("N0", System.Globalization.CultureInfo.InvariantCulture)} \|", report);
    }

    [Fact]
    public void The_data_funnel_yields_pairs_in_the_public_format()
    {
        var sample = run.Counters("sample");
        Assert.Equal(600, sample["problems"]!.GetValue<long>());
        Assert.Equal(2400, sample["samples"]!.GetValue<long>());
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
        // every distinct prefix before a located error got pairs.samples continuations, shared by the errors after it
        var pairs = run.Counters("pairs");
        long prefixes = pairs["rectified_prefixes"]!.GetValue<long>();
        Assert.InRange(prefixes, 1, pairs["located"]!.GetValue<long>());
        Assert.Equal(prefixes * 4, pairs["rectification_samples"]!.GetValue<long>());
        Assert.True(pairs["rectification_correct"]!.GetValue<long>() >= pairs["rectified"]!.GetValue<long>());
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
