using StepDpo.Core;
using StepDpo.Core.Graph;
using StepDpo.Stages.Backends;
using StepDpo.Data;
using StepDpo.Answers;
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
/// benchmark, and the paired comparison start -> trained with an exact McNemar test.
/// </summary>
public sealed class EvaluateStage : PipelineStage
{
    public override string Name => "evaluate";
    public override int Version => 2;
    public const string ResultsFile = "results.jsonl";
    public const string SummaryFile = "summary.json";

    public override async Task RunAsync(StageContext ctx, CancellationToken ct)
    {
        var m = ctx.Manifest;
        var e = m.Evaluate;
        var benchmarks = e.Benchmarks.Select(b => (Spec: b, Pool: ProblemPool.Benchmark(b, m, ctx.Workspace))).ToList();
        var models = new List<(string Name, string Dir)> { (SummaryBuilder.StartModel, e.Backend == "openai" ? "" : ModelStore.StartModelDir(ctx)) };
        if (ctx.UpstreamDirs.ContainsKey("train")) models.Add((SummaryBuilder.TrainedModel, ModelStore.TrainedModelDir(ctx)));

        using var store = JsonlRecordStore<ResultRecord>.Open(ctx.File(ResultsFile), r => r.Id, Json);
        long total = models.Count * benchmarks.Sum(b => (long)b.Pool.Problems.Count) * e.N;
        using var bar = ctx.Progress.Start("evaluate", total);
        bar.SetValue(store.Count);
        var p = new SampleParams(e.N, e.Temperature, e.TopP, e.MaxNewTokens, Array.Empty<string>(), ctx.Seed("evaluate"));
        foreach (var (model, dir) in models)
        {
            var todo = benchmarks.SelectMany(b => b.Pool.Problems.Select(q => (b.Spec.Name, Problem: q)))
                .Where(x => !store.IsDone(Key(model, x.Name, x.Problem.Id, e.N - 1)))
                .ToList();
            if (todo.Count == 0) continue;
            bar.Describe($"evaluate {model}");
            // One model at a time: a managed server serves the start model, is stopped, then serves the trained one.
            using var sampler = e.Backend switch
            {
                "local" => Samplers.Local(dir, m.Model.Dtype, m.Model.Device, e.BatchSize),
                "openai" => await ServedElsewhere(ctx, model, dir, ct),
                _ => await Samplers.ServedAsync(ctx, e.Backend, dir, model, e.Endpoint, ct),
            };
            foreach (var chunk in todo.Chunk(System.Math.Max(1, sampler.PreferredChunk / e.N)))
            {
                ct.ThrowIfCancellationRequested();
                var prompts = chunk.Select(x => new SamplePrompt($"{x.Name}/{x.Problem.Id}",
                    PromptTemplates.Render(m.Model.Template, x.Problem.Question))).ToList();
                var outputs = await sampler.SampleAsync(prompts, p, Samplers.To(bar), ct);
                var records = chunk.SelectMany((x, i) => outputs[i].Select((response, j) =>
                {
                    var grade = Grading.Grade(response, x.Problem.Answer, e.Grader);
                    return new ResultRecord(Key(model, x.Name, x.Problem.Id, j), model, x.Name, x.Problem.Id, j, prompts[i].Text,
                        response, x.Problem.Answer, grade.Extracted, grade.Correct, x.Problem.Level, x.Problem.Subject);
                })).Where(r => !store.IsDone(r.Id)).ToList();
                store.AppendBatch(records);
            }
        }

        var summary = Summarise(store.Records(), e.N, e.Grader);
        SummaryJson.Write(ctx.File(SummaryFile), summary);
        foreach (var r in summary.Results)
        {
            ctx.Metrics[$"{r.Model}.{r.Benchmark}.accuracy"] = r.Accuracy;
            foreach (var (name, accuracy) in r.ByGrader ?? new Dictionary<string, double>())
                ctx.Metrics[$"{r.Model}.{r.Benchmark}.by_grader.{name}"] = accuracy;
            Count(ctx, $"{r.Model}_{r.Benchmark}_grader_disagreements", r.GraderDisagreements);
            Count(ctx, $"{r.Model}_{r.Benchmark}_correct", r.Correct);
        }
        foreach (var c in summary.Comparisons)
        {
            ctx.Metrics[$"delta.{c.Benchmark}.accuracy"] = c.Delta;
            ctx.Metrics[$"comparison.{c.Benchmark}.mcnemar_p"] = c.McNemarP;
        }
    }

    /// <summary>backend openai: the user's server(s), asked for endpoint.start_model or endpoint.trained_model. Both
    /// must be listed by /v1/models, and must not be the same served model (vLLM reports each name's model path as
    /// its root), else the delta would silently be 0.</summary>
    static async Task<ISampler> ServedElsewhere(StageContext ctx, string model, string trainedDir, CancellationToken ct)
    {
        var m = ctx.Manifest;
        var ep = m.Evaluate.Endpoint;
        var start = (Url: ep.BaseUrl, Name: ep.StartModel ?? m.Model.Path ?? m.Name);
        var trained = (Url: ep.TrainedBaseUrl ?? ep.BaseUrl, Name: ep.TrainedModel ?? throw new StepDpoException(
            $"evaluate.endpoint.trained_model: name the served trained model. Serve the train stage's output, e.g. " +
            $"`vllm serve {trainedDir} --served-model-name stepdpo-trained`, and set evaluate.endpoint.trained_model " +
            "(and trained_base_url when it is another server), or use backend vllm to let evaluate serve it"));
        var (target, other) = model == SummaryBuilder.StartModel ? (start, trained) : (trained, start);
        var card = await ServedModels.FindAsync(target.Url, target.Name, ep.ApiKeyEnv, ct);
        // The other model's server may be down by now (one 72B server at a time): compare when it answers.
        if (await ServedModels.TryFindAsync(other.Url, other.Name, ep.ApiKeyEnv, ct) is { } otherCard && card.SameModelAs(otherCard))
            throw new StepDpoException($"evaluate.endpoint: start_model '{start.Name}' ({start.Url}) and trained_model '{trained.Name}' " +
                $"({trained.Url}) are the same served model ({card.Root ?? card.Id}): the trained model would be compared with itself");
        return Samplers.Remote(ep, target.Url, target.Name);
    }

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
