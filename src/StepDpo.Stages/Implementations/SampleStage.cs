using StepDpo.Core;
using StepDpo.Core.Graph;
using StepDpo.Core.Manifests;
using StepDpo.Data;
using StepDpo.Stages.Models;
using StepDpo.Stages.Pool;
using StepDpo.Stages.Records;
using StepDpo.Stages.Sampling;
using StepDpo.Text;

namespace StepDpo.Stages.Implementations;

/// <summary>
/// sample (error collection, paper 3.2 step 1): n solutions per pool problem from the start model with the `-step`
/// prompt; each is split into steps and graded. samples.jsonl is a resumable record store: after a kill, problems
/// already written are not asked for again. data.source `samples` imports real sampled solutions (with their
/// per-step labels) instead of sampling.
/// </summary>
public sealed class SampleStage(string name = "sample", Links? links = null) : PipelineStage<SampleStage.Input>(name, links)
{
    public override int Version => 3; // 3: four static batches per call (other batches); 2: attention written out on the CPU
    public const string FileName = "samples.jsonl";

    /// <param name="Pool">the problems (<see cref="Slices.Pool"/>)</param>
    /// <param name="Generation">sample.backend and its settings</param>
    public sealed record Input(long Seed, ModelSection Model, string Device, DataSlice Pool, int N, double Temperature, double TopP,
        int MaxNewTokens, Generation Generation, GraderKey Grader);

    public override IReadOnlyList<string> DependsOn(ManifestReader<Manifest> m) => [Links.StartModel];

    public override string? DisabledReason(ManifestReader<Manifest> m) => FromPairs(m);

    /// <summary>pairs.from skips data construction: sample and verify do not run.</summary>
    public static string? FromPairs(ManifestReader<Manifest> m) =>
        m.Get(x => x.Pairs.From) is { } from ? $"pairs.from is set: pairs come from {from}" : null;

    protected override Input Read(ManifestReader<Manifest> m)
    {
        var s = m.Section(x => x.Sample);
        return new(m.Get(x => x.Seed), m.Get(x => x.Model), Slices.DeviceKind(m), Slices.Pool(m), s.Get(x => x.N), s.Get(x => x.Temperature),
            s.Get(x => x.TopP), s.Get(x => x.MaxNewTokens), Generation.Read(m.Section<IGenerationSection>(x => x.Sample)), Slices.Grader(m));
    }

    protected override IEnumerable<string> Files(Input input, Workspace ws) =>
        ModelStore.StartModelFiles(input.Model, ws).Concat(input.Pool.Path is { } data ? [ProblemPool.ResolvePath(data, ws)] : []);

    protected override void Check(ReadinessCheck check, Input input, IReadOnlyList<string> upstream)
    {
        check.Try(() => check.Note($"{ProblemPool.Sampling(input.Seed, input.Pool, check.Workspace).Problems.Count} pool problems"));
        check.StartModel(input.Model, input.Generation, upstream.Contains(Links.StartModel));
    }

    protected override async Task RunAsync(StageContext ctx, Input input, CancellationToken ct)
    {
        using var store = JsonlRecordStore<SampleRecord>.Open(ctx.File(FileName), r => r.Id, PipelineStage.Json);
        if (input.Pool.Source == "samples") Import(ctx, input, store);
        else await Sample(ctx, input, store, ct);

        var records = store.Records();
        ctx.Count("problems", records.Select(r => r.ProblemId).Distinct().Count());
        ctx.Count("samples", records.Count);
        ctx.Count("correct", records.Count(r => r.Correct));
        ctx.Count("wrong", records.Count(r => !r.Correct));
        ctx.Count("problems_with_a_wrong_sample", records.Where(r => !r.Correct).Select(r => r.ProblemId).Distinct().Count());
        ctx.Counters["accuracy"] = PipelineStage.Ratio(records.Count(r => r.Correct), records.Count);
    }

    async Task Sample(StageContext ctx, Input input, JsonlRecordStore<SampleRecord> store, CancellationToken ct)
    {
        var pool = ProblemPool.Sampling(input.Seed, input.Pool, ctx.Workspace).Problems;
        var todo = pool.Where(p => Enumerable.Range(0, input.N).Any(i => !store.IsDone(SampleKey.Of(p.Id, i)))).ToList();
        using var bar = ctx.Progress.Start("sample", (long)pool.Count * input.N);
        bar.SetValue(store.Count);
        if (todo.Count == 0) return;
        string modelDir = input.Generation.NeedsModelFolders ? ModelStore.StartModelDir(ctx, input.Model, Links.StartModel) : "";
        using var sampler = await input.Generation.OpenAsync(input.Model, modelDir, "start", ctx, ct);
        var p = new SampleParams(input.N, input.Temperature, input.TopP, input.MaxNewTokens, [], ctx.Seed(input.Seed, "sample"));
        foreach (var chunk in todo.Chunk(System.Math.Max(1, sampler.PreferredChunk / input.N)))
        {
            ct.ThrowIfCancellationRequested();
            var prompts = chunk.Select(q => new SamplePrompt(q.Id, PromptTemplates.RenderStep(input.Model.Template, q.Question))).ToList();
            var outputs = await sampler.SampleAsync(prompts, p, GenerationBackend.To(bar), ct);
            var records = chunk.SelectMany((q, i) => outputs[i].Select((text, j) =>
                    SampleRecord.From(q, j, SampleRecord.StepPreamble + text, input.Grader.Name)))
                .Where(r => !store.IsDone(r.Id))
                .ToList();
            store.AppendBatch(records);
        }
    }

    /// <summary>Real sampled solutions (shared/data/samples layout): steps delimited by "ки" become "Step k:" steps,
    /// and their per-step labels travel with them for the `labels` verifier.</summary>
    static void Import(StageContext ctx, Input input, JsonlRecordStore<SampleRecord> store)
    {
        foreach (var problem in SampleFile.Read(ProblemPool.ResolvePath(input.Pool.Path!, ctx.Workspace)).Take(input.Pool.Limit ?? int.MaxValue))
        {
            var records = problem.Responses.Select((r, j) =>
            {
                var steps = r.SplitSteps().Steps.Select(st => st.Content).Where(c => c.Length > 0).ToList();
                string solution = PromptTemplates.StepByStep + Steps.FormatStepLabels(steps);
                var labels = r.StepLabels.Take(steps.Count).ToList();
                return SampleRecord.From(problem.Problem, j, solution, input.Grader.Name, labels);
            }).Where(r => !store.IsDone(r.Id)).ToList();
            store.AppendBatch(records);
        }
    }
}
