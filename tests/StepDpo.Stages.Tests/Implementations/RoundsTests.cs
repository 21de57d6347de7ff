using System.Text.Json.Nodes;
using StepDpo.Core;
using StepDpo.Core.Artifacts;
using StepDpo.Core.Graph;
using StepDpo.Core.Manifests;
using StepDpo.Stages.Evaluation;
using StepDpo.Stages.Implementations;
using StepDpo.Stages.Report;
using StepDpo.Torch.Training;

namespace StepDpo.Stages.Tests.Implementations;

/// <summary>`rounds: N`: round r's stages are the same classes under the names STAGE@r, linked to the round before, and
/// cached under keys that hold the round before's; one round is the pipeline and the keys there always were.</summary>
public class RoundsTests
{
    // The small manifest of the key tests: a run of it is never started here, only planned.
    const string Tiny = CacheKeyTests.Tiny;

    static Workspace Write(TempDir dir, string yaml) => CacheKeyTests.Write(dir, "keys", yaml);

    static Plan Plan(Workspace ws, params string[] sets) => Pipeline.Graph(ws).Plan(ManifestLoader.Load("keys", ws, sets));

    [Fact]
    public void Each_round_after_the_first_starts_from_the_model_the_round_before_trained()
    {
        using var dir = new TempDir();
        var plan = Plan(Write(dir, Tiny), "rounds=3");
        Assert.Equal(["sft", "sample", "verify", "pairs", "train", "evaluate", "sample@2", "verify@2", "pairs@2", "train@2", "evaluate@2",
            "sample@3", "verify@3", "pairs@3", "train@3", "evaluate@3", "report"], plan.Stages.Select(s => s.Name));
        Assert.Equal(["train"], plan["sample@2"].Upstream);
        Assert.Equal(["train", "sample@2"], plan["verify@2"].Upstream);
        Assert.Equal(["train", "sample@2", "verify@2"], plan["pairs@2"].Upstream);
        Assert.Equal(["train", "pairs@2"], plan["train@2"].Upstream);
        Assert.Equal(["train", "train@2", "evaluate"], plan["evaluate@2"].Upstream);
        Assert.Equal(["train@2", "pairs@3"], plan["train@3"].Upstream);
        Assert.Equal(["train@2", "train@3", "evaluate@2"], plan["evaluate@3"].Upstream);
        Assert.Equal(plan.Stages.Where(s => s.Name != "report").Select(s => s.Name).Order(), plan["report"].Upstream.Order());
        Assert.Equal(["sft", "sample", "verify", "pairs", "train", "evaluate", "report"], StageCatalog.Names);
    }

    [Fact]
    public void A_round_stage_can_be_run_up_to_and_a_stage_no_round_has_is_named_with_the_stages_there_are()
    {
        using var dir = new TempDir();
        var ws = Write(dir, Tiny);
        var m = ManifestLoader.Load("keys", ws, ["rounds=2"]);
        Assert.Equal("train@2", Pipeline.Graph(ws).Plan(m, "train@2").Stages[^1].Name);
        Assert.Equal("evaluate", Pipeline.Graph(ws).Plan(m, "evaluate").Stages[^1].Name);
        var e = Assert.Throws<StepDpoException>(() => Pipeline.Graph(ws).Plan(m, "train@3"));
        Assert.Contains("unknown stage 'train@3'; did you mean 'train@2'?", e.Message);
        Assert.Contains("evaluate@2, report", e.Message);
    }

    [Fact]
    public void One_round_is_the_pipeline_and_the_keys_it_always_had()
    {
        using var dir = new TempDir();
        var ws = Write(dir, Tiny);
        var unset = Plan(ws);
        var one = Plan(ws, "rounds=1");
        Assert.Equal(StageCatalog.Names, unset.Stages.Select(s => s.Name));
        Assert.Equal(unset.Stages.Select(s => (s.Name, s.Key)), one.Stages.Select(s => (s.Name, s.Key)));
        // The report hashes the whole manifest: one round is not written into it (nor into stage.json or the YAML).
        var m = ManifestLoader.Load("keys", ws, ["rounds=1"]).Manifest;
        Assert.DoesNotContain("rounds", ManifestWriter.ToCanonicalJson(m));
        Assert.DoesNotContain("rounds", ManifestWriter.ToYaml(m));
        m.Rounds = 2;
        Assert.Contains("\"rounds\":2", ManifestWriter.ToCanonicalJson(m));
        Assert.Contains("rounds: 2", ManifestWriter.ToYaml(m));
    }

    [Fact]
    public void A_round_is_keyed_by_the_round_before_and_not_by_the_rounds_after_it()
    {
        using var dir = new TempDir();
        var ws = Write(dir, Tiny);
        var one = Plan(ws);
        var two = Plan(ws, "rounds=2");
        var three = Plan(ws, "rounds=3");
        string[] round1 = ["sft", "sample", "verify", "pairs", "train", "evaluate"];
        string[] round2 = ["sample@2", "verify@2", "pairs@2", "train@2", "evaluate@2"];
        foreach (var stage in round1) Assert.Equal(one[stage].Key, two[stage].Key); // round 1 of any run is tiny's own
        foreach (var stage in round2) Assert.Equal(two[stage].Key, three[stage].Key); // a third round reuses the second
        Assert.NotEqual(one["report"].Key, two["report"].Key);
        Assert.NotEqual(two["report"].Key, three["report"].Key);
        // Same slices, other names and upstreams: no round-2 key is its round-1 twin's.
        foreach (var stage in round2) Assert.NotEqual(two[stage[..stage.IndexOf('@')]].Key, two[stage].Key);
        Assert.Equal(two["train"].Key, two["train@2"].Inputs!.Upstream["train"]);
        Assert.Equal(two["evaluate"].Key, two["evaluate@2"].Inputs!.Upstream["evaluate"]);

        // train.beta (every round's train reads it) moves round 1's train and all after it, not round 1's data.
        var beta = Plan(ws, "rounds=2", "train.beta=0.3");
        foreach (var stage in new[] { "sft", "sample", "verify", "pairs" }) Assert.Equal(two[stage].Key, beta[stage].Key);
        foreach (var stage in round2.Append("train").Append("evaluate").Append("report")) Assert.NotEqual(two[stage].Key, beta[stage].Key);
    }

    /// <summary>Two real rounds on a random tiny checkpoint with imported pairs, through the real stage classes under
    /// round 2's links (the pipeline's rules keep imported pairs to one round, so this graph is listed here): train@2
    /// starts from train's model with it as the reference, evaluate@2 asks only the new model, and the report compares
    /// the rounds.</summary>
    [Fact]
    public async Task Round_two_trains_from_round_one_with_it_as_reference_and_evaluates_only_the_new_model()
    {
        using var dir = new TempDir();
        CacheKeyTests.ModelAndPairs(dir, seed: 11, pairs: 4);
        var ws = Write(dir, """
            name: keys
            model: {path: model, template: plain, dtype: float32}
            data: {synthetic: {train: 20, pool: 10, test: 6, min_steps: 2, max_steps: 3, max_start: 9, max_addend: 6, max_factor: 4, max_value: 12}}
            pairs: {from: pairs.jsonl}
            train: {epochs: 2, per_device_batch_size: 2, max_length: 64, max_prompt_length: 48, gradient_checkpointing: false, dtype: float32, learning_rate: 1.0e-2, warmup_ratio: 0}
            evaluate: {max_new_tokens: 12, batch_size: 8, benchmarks: [{name: test, source: synthetic}]}
            """);
        var (one, two) = (Links.Of(1), Links.Of(2));
        var graph = new StageGraph(new Stage[]
        {
            new PairsStage(one.Pairs, one), new TrainStage(one.Trained, one), new EvaluateStage(one.Evaluated, one),
            new PairsStage(two.Pairs, two), new TrainStage(two.Trained, two), new EvaluateStage(two.Evaluated, two),
            new ReportStage([one, two]),
        }, ws);
        // Round 1 up to its evaluation; its answers are then marked, so that reading them differs from asking the same
        // (greedy, so equal) model again.
        var first = await graph.RunAsync(ManifestLoader.Load("keys", ws), new RunOptions("evaluate"), SilentProgressReporter.Instance);
        string results1 = Path.Combine(first["evaluate"].Dir!, EvaluateStage.ResultsFile);
        var marked = PipelineStage.ReadJsonl<ResultRecord>(results1).Select(r => r with { Response = r.Response + Marker }).ToList();
        File.WriteAllLines(results1, marked.Select(r => System.Text.Json.JsonSerializer.Serialize(r, PipelineStage.Json)));
        var plan = await graph.RunAsync(ManifestLoader.Load("keys", ws), new RunOptions(), SilentProgressReporter.Instance);
        Assert.All(plan.Stages, s => Assert.Equal(StageStatus.Cached, s.Status));

        // train@2's reference is train's model: at its first step the policy (loaded from train's final/) equals it, so
        // every reward is 0, while its reference log-probs of the same pairs are not round 1's (the model moved).
        var firstStep = TrainingMetrics.Read(Path.Combine(plan["train@2"].Dir!, "metrics.jsonl"))[0].Values;
        Assert.InRange(firstStep["rewards/chosen"], -1e-4, 1e-4);
        Assert.InRange(firstStep["rewards/rejected"], -1e-4, 1e-4);
        var (ref1, ref2) = (Reference(plan["train"].Dir!), Reference(plan["train@2"].Dir!));
        Assert.True(ref1.Chosen.Zip(ref2.Chosen).Any(p => Math.Abs(p.First - p.Second) > 1e-3),
            $"round 2's reference log-probs equal round 1's: [{string.Join(", ", ref1.Chosen)}] vs [{string.Join(", ", ref2.Chosen)}]");

        // evaluate@2 took its start model's answers from evaluate (round 1's trained answers) and generated the rest.
        var round1 = Results(plan["evaluate"].Dir!);
        var round2 = Results(plan["evaluate@2"].Dir!);
        Assert.Equal(Answers(round1, SummaryBuilder.TrainedModel), Answers(round2, SummaryBuilder.StartModel));
        Assert.All(round2.Where(r => r.Model == SummaryBuilder.StartModel), r => Assert.EndsWith(Marker, r.Response));
        Assert.All(round2.Where(r => r.Model == SummaryBuilder.TrainedModel), r => Assert.DoesNotContain(Marker, r.Response));
        Assert.Equal(6, round2.Count(r => r.Model == SummaryBuilder.TrainedModel));
        var evaluated = StageRecord.TryRead(plan["evaluate@2"].Dir!)!["metrics"]!.AsObject();
        Assert.Contains("round2.trained.test.accuracy", evaluated.Select(p => p.Key));
        Assert.DoesNotContain("trained.test.accuracy", evaluated.Select(p => p.Key));

        // The report: round 0 (start), 1 and 2, each against the one before, and start against round 2.
        var rounds = JsonNode.Parse(File.ReadAllText(Path.Combine(plan["report"].Dir!, ReportStage.RoundsFile)))!;
        var rows = rounds["rounds"]!.AsArray();
        Assert.Equal([0, 1, 2], rows.Select(r => r!["round"]!.GetValue<int>()));
        var summary2 = SummaryJson.Read(Path.Combine(plan["evaluate@2"].Dir!, EvaluateStage.SummaryFile));
        Assert.Equal(summary2.Comparisons[0].McNemarP, rows[2]!["mcnemar_p"]!.GetValue<double>());
        Assert.Null(rows[0]!["mcnemar_p"]);
        Assert.Equal(Accuracy(round2, SummaryBuilder.TrainedModel) - Accuracy(round1, SummaryBuilder.StartModel),
            rounds["start_to_final"]![0]!["delta"]!.GetValue<double>(), 9);
        string md = File.ReadAllText(Path.Combine(plan["report"].Dir!, "report.md"));
        Assert.Contains("## Rounds", md);
        Assert.Contains("| test | round 2 |", md);
        Assert.Contains("## Training: Step-DPO round 2", md);
        Assert.True(File.Exists(Path.Combine(plan["report"].Dir!, "plots", "rounds.png")));
    }

    /// <summary>Ten problems: the start model solves 2, round 1 fixes 4 and breaks 1 (5), round 2 fixes 2 and breaks 1 (6).
    /// By hand: Wilson 95% of 5/10 is 23.7% - 76.3%; McNemar 4 vs 1 is 2 (1 + 5) / 2^5 = 0.375, 2 vs 1 is 1; start against
    /// round 2 fixes 4 and breaks none: 2 / 2^4 = 0.125.</summary>
    [Fact]
    public void The_report_shows_each_round_with_its_interval_and_the_paired_test_against_the_round_before()
    {
        bool[] start = [true, true, false, false, false, false, false, false, false, false];
        bool[] round1 = [true, false, true, true, true, true, false, false, false, false];
        bool[] round2 = [true, true, true, true, true, false, true, false, false, false];
        EvalSummary Round(bool[] before, bool[] after) => new SummaryBuilder()
            .AddRange(before.Select((c, i) => new ProblemOutcome(SummaryBuilder.StartModel, "test", $"p{i}", c)))
            .AddRange(after.Select((c, i) => new ProblemOutcome(SummaryBuilder.TrainedModel, "test", $"p{i}", c))).Build();
        var rounds = new RoundsReport([new RoundOutcome(1, Round(start, round1), null), new RoundOutcome(2, Round(round1, round2), null)],
            Round(start, round2));

        var rows = rounds.Rows();
        Assert.Equal([(0, 2), (1, 5), (2, 6)], rows.Select(r => (r.Round, r.Correct)));
        Assert.Equal((0.375, 4, 1), (rows[1].McNemarP!.Value, rows[1].Fixed!.Value, rows[1].Broken!.Value));
        Assert.Equal((1.0, 2, 1), (rows[2].McNemarP!.Value, rows[2].Fixed!.Value, rows[2].Broken!.Value));
        string md = ReportMarkdown.Render(new ReportData("r", Round(start, round1), null, [], [], Rounds: rounds));
        Assert.Contains("| test | start | 20.0% | 5.7% – 51.0% | 2 / 10 |  |  |  |  |", md);
        Assert.Contains("| test | round 1 | 50.0% | 23.7% – 76.3% | 5 / 10 | +30.0 points | 4 | 1 | 0.375 |", md);
        Assert.Contains("| test | round 2 | 60.0% | 31.3% – 83.2% | 6 / 10 | +10.0 points | 2 | 1 | 1 |", md);
        Assert.Contains("start → round 2: 20.0% → 60.0% (+40.0 points); fixed 4, broken 0; exact McNemar p = 0.125, not significant", md);
        Assert.True(md.IndexOf("## Rounds", StringComparison.Ordinal) < md.IndexOf("## Result of round 1", StringComparison.Ordinal));
    }

    const string Marker = " [answered in round 1]";

    static ReferenceLogps Reference(string trainDir) =>
        ReferenceLogps.Load(Path.GetFullPath(StageRecord.TryRead(trainDir)!["counters"]!["reference_logps"]!.GetValue<string>()));

    static List<ResultRecord> Results(string dir) => PipelineStage.ReadJsonl<ResultRecord>(Path.Combine(dir, EvaluateStage.ResultsFile)).ToList();

    static List<(string, string, bool)> Answers(List<ResultRecord> results, string model) =>
        results.Where(r => r.Model == model).Select(r => (r.ProblemId, r.Response, r.Correct)).OrderBy(x => x.ProblemId, StringComparer.Ordinal).ToList();

    static double Accuracy(List<ResultRecord> results, string model) =>
        results.Where(r => r.Model == model).Average(r => r.Correct ? 1.0 : 0.0);
}
