using StepDpo.Core;
using StepDpo.Core.Graph;
using StepDpo.Core.Manifests;
using StepDpo.Stages.Records;
using StepDpo.Stages.Verify;

namespace StepDpo.Stages.Implementations;

/// <summary>
/// verify (step localisation, paper 3.2 step 2): for every wrong solution, the first wrong step k, by the method
/// verify.method names (a <see cref="Verifier"/>: `rule`, `labels`, `rollout`, `judge`). verified.jsonl keeps every
/// wrong solution with k (or why none), the evidence and its cost (rollouts or judge calls and tokens). When the problem
/// world has an exact step checker (the synthetic world) and the method is another, the locator is scored against the
/// checker over all samples (<see cref="Locate.ExactCheckerEvaluation"/>): locate.json, and locate_* counters in stage.json.
/// Version 4: the rollout verifier's samples: the engine's attention is written out on the CPU up to 256 keys (other float rounding, other samples); 3: per-record cost, locate.json, the judge over chat completions.
/// </summary>
public sealed class VerifyStage(string name = "verify", Links? links = null) : PipelineStage<VerifyStage.Input>(name, links)
{
    public override int Version => 4;
    public const string FileName = "verified.jsonl";

    /// <param name="Settings">what the method reads (its <see cref="Verifier.Read"/>)</param>
    public sealed record Input(long Seed, string Method, object Settings);

    public override IReadOnlyList<string> DependsOn(ManifestReader<Manifest> m) => [Links.StartModel, Links.Samples];

    public override string? DisabledReason(ManifestReader<Manifest> m) => SampleStage.FromPairs(m);

    protected override Input Read(ManifestReader<Manifest> m)
    {
        var method = Verifier.All[m.Get(x => x.Verify.Method)];
        return new(m.Get(x => x.Seed), method.Name, method.Read(m));
    }

    protected override IEnumerable<string> Files(Input input, Workspace ws) => Verifier.All[input.Method].Files(input.Settings, ws);

    protected override void Check(ReadinessCheck check, Input input, IReadOnlyList<string> upstream) =>
        Verifier.All[input.Method].Check(check, input.Settings, upstream.Contains(Links.StartModel));

    protected override async Task RunAsync(StageContext ctx, Input input, CancellationToken ct)
    {
        var samples = PipelineStage.ReadJsonl<SampleRecord>(Path.Combine(ctx.Upstream(Links.Samples), SampleStage.FileName)).ToList();
        var wrong = samples.Where(s => !s.Correct).ToList();
        using var store = JsonlRecordStore<VerifiedRecord>.Open(ctx.File(FileName), r => r.Id, PipelineStage.Json);
        using var bar = ctx.Progress.Start($"verify ({input.Method})", wrong.Count);
        bar.SetValue(store.Count);
        var job = new VerifyJob
        {
            Context = ctx, Seed = input.Seed, StartModel = Links.StartModel, Samples = samples,
            Todo = wrong.Where(w => !store.IsDone(w.Id)).ToList(), Store = store, Bar = bar,
        };
        await Verifier.All[input.Method].RunAsync(job, input.Settings, ct);

        var all = store.Records();
        ctx.Count("wrong", wrong.Count);
        ctx.Count("located", all.Count(r => r.FirstWrongStep is not null));
        foreach (var g in all.GroupBy(r => r.Outcome)) ctx.Count($"outcome_{g.Key}", g.Count());
        ctx.Counters["located_share"] = PipelineStage.Ratio(all.Count(r => r.FirstWrongStep is not null), wrong.Count);
    }
}
