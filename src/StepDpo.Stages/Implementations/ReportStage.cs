using StepDpo.Core.Graph;
using StepDpo.Core.Manifests;
using StepDpo.Stages.Evaluation;
using StepDpo.Stages.Report;
using System.Text.Json.Nodes;

namespace StepDpo.Stages.Implementations;

/// <summary>
/// report: report.md and PNG plots from the artifacts upstream: accuracy before/after with intervals and McNemar
/// p-values, the data funnel of the pipeline stages, training hyperparameters, curves and final metrics, the
/// `expect` check and the resolved manifest. A person should understand the run from this page alone.
/// </summary>
public sealed class ReportStage(string name = "report", Links? links = null) : PipelineStage<Manifest>(name, links)
{
    public override int Version => 2;

    public override IReadOnlyList<string> DependsOn(ManifestReader<Manifest> m) =>
        [Links.StartModel, Links.Samples, Links.Verified, Links.Pairs, Links.Trained, Links.Evaluated];

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
        var data = new ReportData(m.Name, summary, Funnel(ctx), Training(ctx, m), Array.Empty<ReportImage>(),
            ManifestWriter.ToYaml(m), gate, DateTimeOffset.UtcNow, Compared(m, ctx.Workspace), Locator(ctx));
        ReportRenderer.Write(ctx.Dir, data);
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

    PipelineFunnel? Funnel(StageContext ctx)
    {
        var sample = Counters(ctx, Links.Samples);
        var verify = Counters(ctx, Links.Verified);
        var pairs = Counters(ctx, Links.Pairs);
        if (pairs is null) return null;
        return new PipelineFunnel(Int(sample, "problems"), Int(sample, "samples"), Int(sample, "wrong"),
            Int(verify, "located"), Int(pairs, "rectified"), Int(pairs, "pairs"));
    }

    List<TrainingRun> Training(StageContext ctx, Manifest m)
    {
        var runs = new List<TrainingRun>();
        foreach (var (stage, section) in new (string, OptimSection?)[] { (Links.StartModel, m.Sft), (Links.Trained, m.Train) })
        {
            if (section is null || !ctx.UpstreamDirs.TryGetValue(stage, out var dir)) continue;
            string metrics = Path.Combine(dir, "metrics.jsonl");
            if (!File.Exists(metrics)) continue;
            var record = Core.Artifacts.StageRecord.TryRead(dir);
            TimeSpan? duration = record?["duration_seconds"] is JsonValue d ? TimeSpan.FromSeconds(d.GetValue<double>()) : null;
            var hyper = Flatten(ManifestWriter.ToJsonElement(section)).ToList();
            runs.Add(new TrainingRun(stage == Links.StartModel ? "SFT" : "Step-DPO", hyper, TrainingMetrics.Read(metrics), duration));
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
