using StepDpo.Core.Graph;
using StepDpo.Core.Manifests;
using StepDpo.Stages.Evaluation;
using StepDpo.Stages.Report;
using System.Text.Json.Nodes;

namespace StepDpo.Stages.Implementations;

/// <summary>
/// report: report.md and PNG plots from the artifacts upstream: accuracy before/after with intervals and McNemar
/// p-values, the data funnel of the pipeline stages, training hyperparameters, curves and final metrics, the
/// `expect` check and the resolved manifest. A person should understand the run from this page alone. With several
/// rounds it shows accuracy per round with the paired test between consecutive rounds and from start to the last
/// (rounds.json, plots/rounds.png), each round's data funnel and training; the rest of the page is round 1's.
/// </summary>
/// <param name="rounds">the links of each round (round 1 first)</param>
public sealed class ReportStage(IReadOnlyList<Links>? rounds = null) : PipelineStage<Manifest>("report", rounds?[0])
{
    public override int Version => 2;
    public const string RoundsFile = "rounds.json";

    readonly IReadOnlyList<Links> rounds = rounds ?? [Links.Default];

    public override IReadOnlyList<string> DependsOn(ManifestReader<Manifest> m) =>
        rounds.SelectMany(l => new[] { l.StartModel, l.Samples, l.Verified, l.Pairs, l.Trained, l.Evaluated }).Distinct().ToList();

    /// <summary>report.md embeds the whole resolved manifest (besides report, expect and the hyperparameters it
    /// tabulates), so every value of it is in the report's key, the experiment's name included.</summary>
    protected override Manifest Read(ManifestReader<Manifest> m) => m.Get(x => x);

    /// <summary>The compared experiment's evaluation: when it finishes, the report's key changes.</summary>
    protected override IEnumerable<string> Files(Manifest m, Core.Workspace ws) =>
        StageCatalog.ComparedSummaryPath(m, ws, out _) is { } summary ? [summary] : [];

    protected override Task RunAsync(StageContext ctx, Manifest m, CancellationToken ct)
    {
        var summary = ctx.UpstreamDirs.TryGetValue(Links.Evaluated, out var eval)
            ? SummaryJson.Read(Path.Combine(eval, EvaluateStage.SummaryFile))
            : new EvalSummary(Array.Empty<BenchmarkResult>(), Array.Empty<Comparison>());
        var expectations = Expectations(m);
        var gate = expectations.Count == 0 ? null : ExpectGate.Check(summary, expectations);
        var byRound = Rounds(ctx, m);
        var data = new ReportData(m.Name, summary, Funnel(ctx, Links), Training(ctx, m), Array.Empty<ReportImage>(),
            ManifestWriter.ToYaml(m), gate, DateTimeOffset.UtcNow, Compared(m, ctx.Workspace), Locator(ctx), byRound);
        ReportRenderer.Write(ctx.Dir, data);
        if (byRound is not null) PipelineStage.WriteJson(ctx.File(RoundsFile), new { rounds = byRound.Rows(), start_to_final = byRound.StartToFinal.Comparisons });
        if (gate is not null)
        {
            ctx.Count("expectations", gate.Rows.Count);
            ctx.Count("expectations_met", gate.Rows.Count(r => r.Passed));
        }
        return Task.CompletedTask;
    }

    /// <summary>verify's locate.json: its locator scored against an exact step checker, when the world has one.</summary>
    Locate.LocateFile? Locator(StageContext ctx) =>
        ctx.UpstreamDirs.TryGetValue(Links.Verified, out var dir) && Path.Combine(dir, Locate.ExactCheckerEvaluation.FileName) is var path && File.Exists(path)
            ? System.Text.Json.JsonSerializer.Deserialize<Locate.LocateFile>(File.ReadAllText(path), PipelineStage.Json)
            : null;

    static ComparedRun? Compared(Manifest m, Core.Workspace ws)
    {
        string? path = StageCatalog.ComparedSummaryPath(m, ws, out string? other);
        return other is null ? null : new ComparedRun(other, path is null ? null : SummaryJson.Read(path));
    }

    public static IReadOnlyList<Evaluation.Expectation> Expectations(Manifest m) =>
        m.Expect.Select(e => new Evaluation.Expectation(e.Key, e.Value.Min, e.Value.Max, e.Value.Value, e.Value.Tolerance)).ToList();

    static JsonNode? Counters(StageContext ctx, string stage) =>
        ctx.UpstreamDirs.TryGetValue(stage, out var dir) ? Core.Artifacts.StageRecord.TryRead(dir)?["counters"] : null;

    static int Int(JsonNode? counters, string name) => counters?[name] is JsonValue v && v.TryGetValue<long>(out var x) ? (int)x : 0;

    /// <summary>Each round's evaluation and funnel, and the start model against the last round's (its answers from round 1's
    /// evaluation, the last round's from its own); null with one round.</summary>
    RoundsReport? Rounds(StageContext ctx, Manifest m)
    {
        if (rounds.Count == 1) return null;
        var outcomes = rounds.Select(l => new RoundOutcome(l.Round,
            SummaryJson.Read(Path.Combine(ctx.Upstream(l.Evaluated), EvaluateStage.SummaryFile)), Funnel(ctx, l))).ToList();
        var start = Answers(ctx, rounds[0].Evaluated, SummaryBuilder.StartModel);
        var final = Answers(ctx, rounds[^1].Evaluated, SummaryBuilder.TrainedModel);
        return new RoundsReport(outcomes, EvaluateStage.Summarise([.. start, .. final], m.Evaluate.N, m.Evaluate.Grader));
    }

    static IEnumerable<ResultRecord> Answers(StageContext ctx, string evaluation, string model) =>
        PipelineStage.ReadJsonl<ResultRecord>(Path.Combine(ctx.Upstream(evaluation), EvaluateStage.ResultsFile)).Where(r => r.Model == model);

    PipelineFunnel? Funnel(StageContext ctx, Links links)
    {
        var sample = Counters(ctx, links.Samples);
        var verify = Counters(ctx, links.Verified);
        var pairs = Counters(ctx, links.Pairs);
        if (pairs is null) return null;
        return new PipelineFunnel(Int(sample, "problems"), Int(sample, "samples"), Int(sample, "wrong"),
            Int(verify, "located"), Int(pairs, "rectified"), Int(pairs, "pairs"));
    }

    List<TrainingRun> Training(StageContext ctx, Manifest m)
    {
        var runs = new List<TrainingRun>();
        var trainings = new (string, string, OptimSection?, int)[] { ("SFT", Links.StartModel, m.Sft, 1) }
            .Concat(rounds.Select(l => (l.Round == 1 ? "Step-DPO" : $"Step-DPO round {l.Round}", l.Trained, (OptimSection?)m.Train, l.Round)));
        foreach (var (name, stage, section, round) in trainings)
        {
            if (section is null || !ctx.UpstreamDirs.TryGetValue(stage, out var dir)) continue;
            string metrics = Path.Combine(dir, "metrics.jsonl");
            if (!File.Exists(metrics)) continue;
            var record = Core.Artifacts.StageRecord.TryRead(dir);
            TimeSpan? duration = record?["duration_seconds"] is JsonValue d ? TimeSpan.FromSeconds(d.GetValue<double>()) : null;
            // Every round trains with the same settings: they are tabulated once, under round 1.
            var hyper = round > 1 ? [] : Flatten(ManifestWriter.ToJsonElement(section)).ToList();
            runs.Add(new TrainingRun(name, hyper, TrainingMetrics.Read(metrics), duration));
        }
        return runs;
    }

    static IEnumerable<KeyValuePair<string, string>> Flatten(System.Text.Json.JsonElement e, string prefix = "")
    {
        foreach (var p in e.EnumerateObject())
        {
            string key = prefix == "" ? p.Name : $"{prefix}.{p.Name}";
            if (p.Value.ValueKind == System.Text.Json.JsonValueKind.Object)
                foreach (var kv in Flatten(p.Value, key)) yield return kv;
            else if (p.Value.ValueKind != System.Text.Json.JsonValueKind.Null)
                yield return new(key, p.Value.ToString());
        }
    }
}
