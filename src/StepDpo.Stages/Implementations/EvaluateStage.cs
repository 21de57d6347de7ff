using StepDpo.Answers;
using StepDpo.Core;
using StepDpo.Core.Graph;
using StepDpo.Core.Manifests;
using StepDpo.Stages.Evaluation;
using StepDpo.Stages.Models;
using StepDpo.Stages.Pool;
using StepDpo.Stages.Records;
using StepDpo.Stages.Sampling;
using StepDpo.Text;

namespace StepDpo.Stages.Implementations;

/// <summary>
/// evaluate: the start model and the trained model on every benchmark of the manifest, with the model family's
/// evaluation prompt, greedy by default (as the paper); n &gt; 1 adds pass@k and majority vote. results.jsonl has one
/// line per (model, problem, sample) and is resumable; summary.json has accuracy with Wilson intervals per model and
/// benchmark, and the paired comparison start -> trained with an exact McNemar test. In a later round the start model
/// is the one the round before trained, whose answers that round's evaluation holds already: they are taken from it,
/// not asked again, and the comparison is the paired test between consecutive rounds (its metrics are named roundN.*).
/// </summary>
public sealed class EvaluateStage(string name = "evaluate", Links? links = null) : PipelineStage<EvaluateStage.Input>(name, links)
{
    public override int Version => 4; // 4: four static batches per call (other batches); 3: attention written out on the CPU
    public const string ResultsFile = "results.jsonl";
    public const string SummaryFile = "summary.json";

    /// <param name="Generation">evaluate.backend and its settings</param>
    public sealed record Input(long Seed, ModelSection Model, string Device, IReadOnlyList<BenchmarkSlice> Benchmarks, Generation Generation,
        int MaxNewTokens, double Temperature, double TopP, int N, GraderKey Grader);

    public override IReadOnlyList<string> DependsOn(ManifestReader<Manifest> m) =>
        Links.EvaluatedBefore is { } before ? [Links.StartModel, Links.Trained, before] : [Links.StartModel, Links.Trained];

    protected override Input Read(ManifestReader<Manifest> m)
    {
        var e = m.Section(x => x.Evaluate);
        var benchmarks = e.Get(x => x.Benchmarks).Select(b => new BenchmarkSlice(b.Name, b.Source, b.Path, b.Limit, b.Fields,
            b.Source == "synthetic" ? Slices.TestSplit(m) : null)).ToList();
        return new(m.Get(x => x.Seed), m.Get(x => x.Model), Slices.DeviceKind(m), benchmarks, Generation.Read(m.Section<IGenerationSection>(x => x.Evaluate)),
            e.Get(x => x.MaxNewTokens), e.Get(x => x.Temperature), e.Get(x => x.TopP), e.Get(x => x.N), Slices.Grader(m));
    }

    protected override IEnumerable<string> Files(Input input, Workspace ws) => ModelStore.StartModelFiles(input.Model, ws)
        .Concat(input.Benchmarks.Where(b => b.Path is not null).Select(b => ProblemPool.ResolvePath(b.Path, ws)));

    protected override void Check(ReadinessCheck check, Input input, IReadOnlyList<string> upstream)
    {
        foreach (var b in input.Benchmarks)
            check.Try(() => check.Note($"{b.Name}: {ProblemPool.Benchmark(input.Seed, b, check.Workspace).Problems.Count} problems"));
        check.StartModel(input.Model, input.Generation, upstream.Contains(Links.StartModel));
        if (input.Generation.Settings is OpenAiBackend.Settings remote) check.Secret(remote.Client.ApiKeyEnv, "evaluate.endpoint.api_key_env");
    }

    protected override async Task RunAsync(StageContext ctx, Input input, CancellationToken ct)
    {
        var benchmarks = input.Benchmarks.Select(b => (Spec: b, Pool: ProblemPool.Benchmark(input.Seed, b, ctx.Workspace))).ToList();
        bool folders = input.Generation.NeedsModelFolders;
        var models = new List<(string Name, string Dir)> { (SummaryBuilder.StartModel, folders ? ModelStore.StartModelDir(ctx, input.Model, Links.StartModel) : "") };
        if (ctx.UpstreamDirs.TryGetValue(Links.Trained, out var trained)) models.Add((SummaryBuilder.TrainedModel, Path.Combine(trained, ModelStore.ModelFolder)));

        using var store = JsonlRecordStore<ResultRecord>.Open(ctx.File(ResultsFile), r => r.Id, PipelineStage.Json);
        if (Links.EvaluatedBefore is { } before && ctx.UpstreamDirs.TryGetValue(before, out var previous))
            store.AppendBatch(StartAnswersFrom(previous).Where(r => !store.IsDone(r.Id)).ToList());
        long total = models.Count * benchmarks.Sum(b => (long)b.Pool.Problems.Count) * input.N;
        using var bar = ctx.Progress.Start("evaluate", total);
        bar.SetValue(store.Count);
        var p = new SampleParams(input.N, input.Temperature, input.TopP, input.MaxNewTokens, [], ctx.Seed(input.Seed, "evaluate"));
        foreach (var (model, dir) in models)
        {
            var todo = benchmarks.SelectMany(b => b.Pool.Problems.Select(q => (b.Spec.Name, Problem: q)))
                .Where(x => !store.IsDone(Key(model, x.Name, x.Problem.Id, input.N - 1)))
                .ToList();
            if (todo.Count == 0) continue;
            bar.Describe($"evaluate {model}");
            // One model at a time: a managed server serves the start model, is stopped, then serves the trained one.
            using var sampler = await input.Generation.OpenAsync(input.Model, dir, model, ctx, ct);
            foreach (var chunk in todo.Chunk(System.Math.Max(1, sampler.PreferredChunk / input.N)))
            {
                ct.ThrowIfCancellationRequested();
                var prompts = chunk.Select(x => new SamplePrompt($"{x.Name}/{x.Problem.Id}",
                    PromptTemplates.Render(input.Model.Template, x.Problem.Question))).ToList();
                var outputs = await sampler.SampleAsync(prompts, p, GenerationBackend.To(bar), ct);
                var records = chunk.SelectMany((x, i) => outputs[i].Select((response, j) =>
                {
                    var grade = Grading.Grade(response, x.Problem.Answer, input.Grader.Name);
                    return new ResultRecord(Key(model, x.Name, x.Problem.Id, j), model, x.Name, x.Problem.Id, j, prompts[i].Text,
                        response, x.Problem.Answer, grade.Extracted, grade.Correct, x.Problem.Level, x.Problem.Subject);
                })).Where(r => !store.IsDone(r.Id)).ToList();
                store.AppendBatch(records);
            }
        }

        var summary = Summarise(store.Records(), input.N, input.Grader.Name);
        SummaryJson.Write(ctx.File(SummaryFile), summary);
        // Round 1's names are the ones `expect` and the build's gate know; a later round's say which round they are.
        string round = Links.Round == 1 ? "" : $"round{Links.Round}.";
        foreach (var r in summary.Results)
        {
            ctx.Metrics[$"{round}{r.Model}.{r.Benchmark}.accuracy"] = r.Accuracy;
            foreach (var (grader, accuracy) in r.ByGrader ?? new Dictionary<string, double>())
                ctx.Metrics[$"{round}{r.Model}.{r.Benchmark}.by_grader.{grader}"] = accuracy;
            ctx.Count($"{r.Model}_{r.Benchmark}_grader_disagreements", r.GraderDisagreements);
            ctx.Count($"{r.Model}_{r.Benchmark}_correct", r.Correct);
        }
        foreach (var c in summary.Comparisons)
        {
            ctx.Metrics[$"{round}delta.{c.Benchmark}.accuracy"] = c.Delta;
            ctx.Metrics[$"{round}comparison.{c.Benchmark}.mcnemar_p"] = c.McNemarP;
        }
    }

    /// <summary>The trained model's answers of the round before, as this round's start model's (the same model, the same
    /// settings: this stage's key holds that evaluation's key).</summary>
    static IEnumerable<ResultRecord> StartAnswersFrom(string previousEvaluation) =>
        PipelineStage.ReadJsonl<ResultRecord>(Path.Combine(previousEvaluation, ResultsFile))
            .Where(r => r.Model == SummaryBuilder.TrainedModel)
            .Select(r => r with { Id = Key(SummaryBuilder.StartModel, r.Benchmark, r.ProblemId, r.Index), Model = SummaryBuilder.StartModel });

    static string Key(string model, string benchmark, string problemId, int index) => $"{model}/{benchmark}/{SampleKey.Of(problemId, index)}";

    /// <summary>The graders every summary reports side by side: ours and the paper's (plus the configured one), so an
    /// `expect` on a published number can use the paper's comparison and the gap between the two is visible.</summary>
    public static IReadOnlyList<string> ComparedGraders(string grader) => new[] { grader, "stepdpo", "deepseekmath" }.Distinct().ToList();

    /// <summary>Sample 0 is the scored answer (greedy when temperature is 0); with n &gt; 1 the samples also give
    /// pass@k and the majority vote (answers grouped by the grader's equivalence).</summary>
    public static EvalSummary Summarise(IReadOnlyList<ResultRecord> records, int n, string grader)
    {
        var builder = new SummaryBuilder();
        foreach (var g in records.GroupBy(r => (r.Model, r.Benchmark, r.ProblemId)))
        {
            var first = g.OrderBy(r => r.Index).First();
            var byGrader = ComparedGraders(grader).ToDictionary(x => x, x => x == grader ? first.Correct
                : first.Extracted is { } answer && Grading.AnswersEqual(answer, first.Answer, x));
            builder.Add(new ProblemOutcome(g.Key.Model, g.Key.Benchmark, g.Key.ProblemId, first.Correct, first.Level, first.Subject, byGrader));
            if (n > 1)
            {
                bool majority = MajorityVote.IsCorrect(g.Select(r => r.Extracted).ToList(), first.Answer,
                    (a, b) => Grading.AnswersEqual(a, b, grader));
                builder.AddSamples(g.Key.Model, g.Key.Benchmark, g.Key.ProblemId, g.Count(), g.Count(r => r.Correct), majority);
            }
        }
        if (n > 1) builder.WithPassAtK(Core.Manifests.MetricNames.PassAtK(n).ToArray());
        return builder.Build();
    }
}
