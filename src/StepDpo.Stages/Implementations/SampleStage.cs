using StepDpo.Core.Graph;
using StepDpo.Data;
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
public sealed class SampleStage : PipelineStage
{
    public override string Name => "sample";
    public override int Version => 1;
    public const string FileName = "samples.jsonl";

    public override async Task RunAsync(StageContext ctx, CancellationToken ct)
    {
        var m = ctx.Manifest;
        using var store = JsonlRecordStore<SampleRecord>.Open(ctx.File(FileName), r => r.Id, Json);
        if (m.Data.Source == "samples") Import(ctx, store);
        else await Sample(ctx, store, ct);

        var records = store.Records();
        Count(ctx, "problems", records.Select(r => r.ProblemId).Distinct().Count());
        Count(ctx, "samples", records.Count);
        Count(ctx, "correct", records.Count(r => r.Correct));
        Count(ctx, "wrong", records.Count(r => !r.Correct));
        Count(ctx, "problems_with_a_wrong_sample", records.Where(r => !r.Correct).Select(r => r.ProblemId).Distinct().Count());
        ctx.Counters["accuracy"] = Ratio(records.Count(r => r.Correct), records.Count);
    }

    static async Task Sample(StageContext ctx, JsonlRecordStore<SampleRecord> store, CancellationToken ct)
    {
        var m = ctx.Manifest;
        var s = m.Sample;
        var pool = ProblemPool.Sampling(m, ctx.Workspace).Problems;
        var todo = pool.Where(p => Enumerable.Range(0, s.N).Any(i => !store.IsDone(SampleKey.Of(p.Id, i)))).ToList();
        using var bar = ctx.Progress.Start("sample", (long)pool.Count * s.N);
        bar.SetValue(store.Count);
        if (todo.Count == 0) return;
        using var sampler = await Samplers.ForStartModelAsync(ctx, s.Backend, s.Endpoint, s.BatchSize, ct);
        var p = new SampleParams(s.N, s.Temperature, s.TopP, s.MaxNewTokens, Array.Empty<string>(), ctx.Seed("sample"));
        foreach (var chunk in todo.Chunk(System.Math.Max(1, sampler.PreferredChunk / s.N)))
        {
            ct.ThrowIfCancellationRequested();
            var prompts = chunk.Select(q => new SamplePrompt(q.Id, PromptTemplates.RenderStep(m.Model.Template, q.Question))).ToList();
            var outputs = await sampler.SampleAsync(prompts, p, Samplers.To(bar), ct);
            var records = chunk.SelectMany((q, i) => outputs[i].Select((text, j) =>
                    SampleRecord.From(q, j, SampleRecord.StepPreamble + text, m.Evaluate.Grader)))
                .Where(r => !store.IsDone(r.Id))
                .ToList();
            store.AppendBatch(records);
        }
    }

    /// <summary>Real sampled solutions (shared/data/samples layout): steps delimited by "ки" become "Step k:" steps,
    /// and their per-step labels travel with them for the `labels` verifier.</summary>
    static void Import(StageContext ctx, JsonlRecordStore<SampleRecord> store)
    {
        var m = ctx.Manifest;
        string path = Path.IsPathRooted(m.Data.Path!) ? m.Data.Path! : Path.Combine(ctx.Workspace.Root, m.Data.Path!);
        foreach (var problem in SampleFile.Read(path).Take(m.Data.Limit ?? int.MaxValue))
        {
            var records = problem.Responses.Select((r, j) =>
            {
                var steps = r.SplitSteps().Steps.Select(st => st.Content).Where(c => c.Length > 0).ToList();
                string solution = PromptTemplates.StepByStep + Steps.FormatStepLabels(steps);
                var labels = r.StepLabels.Take(steps.Count).ToList();
                return SampleRecord.From(problem.Problem, j, solution, m.Evaluate.Grader, labels);
            }).Where(r => !store.IsDone(r.Id)).ToList();
            store.AppendBatch(records);
        }
    }
}
