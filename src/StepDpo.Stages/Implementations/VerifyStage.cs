using StepDpo.Core;
using StepDpo.Core.Graph;
using StepDpo.Core.Manifests;
using StepDpo.Data;
using StepDpo.Answers;
using StepDpo.Stages.Backends;
using StepDpo.Stages.Pool;
using StepDpo.Stages.Records;
using StepDpo.Stages.Sampling;
using StepDpo.Stages.Verify;
using StepDpo.Text;

namespace StepDpo.Stages.Implementations;

/// <summary>
/// verify (step localisation, paper 3.2 step 2): for every wrong solution, the first wrong step k.
/// Methods: `rule` (the synthetic world's exact step checker), `labels` (per-step labels carried by imported
/// samples), `rollout` (Monte Carlo with binary search over the steps, OmegaPRM), `judge` (a judge model behind
/// an OpenAI-compatible endpoint, parsed from "Final Decision: Step 1: correct; ..."). verified.jsonl keeps every
/// wrong solution with k (or why none) and the evidence.
/// </summary>
public sealed class VerifyStage : PipelineStage
{
    public override string Name => "verify";
    public override int Version => 2;
    public const string FileName = "verified.jsonl";

    public override async Task RunAsync(StageContext ctx, CancellationToken ct)
    {
        var m = ctx.Manifest;
        var samples = ReadJsonl<SampleRecord>(Path.Combine(ctx.Upstream("sample"), SampleStage.FileName)).ToList();
        var wrong = samples.Where(s => !s.Correct).ToList();
        using var store = JsonlRecordStore<VerifiedRecord>.Open(ctx.File(FileName), r => r.Id, Json);
        using var bar = ctx.Progress.Start($"verify ({m.Verify.Method})", wrong.Count);
        bar.SetValue(store.Count);
        var todo = wrong.Where(w => !store.IsDone(w.Id)).ToList();
        if (m.Verify.Method == "judge") await JudgeAll(ctx, samples, todo, store, bar, ct);
        else
        {
            using var sampler = m.Verify.Method == "rollout" && todo.Count > 0
                ? await Samplers.ForStartModelAsync(ctx, m.Sample.Backend, m.Sample.Endpoint, m.Sample.BatchSize, ct) : null;
            Func<SampleRecord, CancellationToken, Task<VerifiedRecord>> locate = m.Verify.Method switch
            {
                "rule" => Rule(ctx),
                "labels" => (s, _) => Task.FromResult(Labels(s)),
                "rollout" => Rollout(ctx, sampler),
                _ => throw new StepDpoException($"verify.method '{m.Verify.Method}' is not known"),
            };
            foreach (var s in todo)
            {
                ct.ThrowIfCancellationRequested();
                store.Append(await locate(s, ct));
                bar.Increment();
            }
        }

        var all = store.Records();
        Count(ctx, "wrong", wrong.Count);
        Count(ctx, "located", all.Count(r => r.FirstWrongStep is not null));
        foreach (var g in all.GroupBy(r => r.Outcome)) Count(ctx, $"outcome_{g.Key}", g.Count());
        ctx.Counters["located_share"] = Ratio(all.Count(r => r.FirstWrongStep is not null), wrong.Count);
    }

    static VerifiedRecord Record(SampleRecord s, int? k, string method, string outcome,
        IReadOnlyDictionary<string, double>? estimates = null, IReadOnlyList<string>? labels = null) =>
        new(s.Id, s.ProblemId, s.Question, s.Answer, s.Solution, k, method, outcome, estimates, labels);

    static Func<SampleRecord, CancellationToken, Task<VerifiedRecord>> Rule(StageContext ctx)
    {
        var pool = ProblemPool.Sampling(ctx.Manifest, ctx.Workspace);
        if (!pool.IsSynthetic) throw new StepDpoException("verify.method 'rule' needs a problem world with a step checker (data.source: synthetic)");
        return (s, _) =>
        {
            int? k = pool.FirstWrongStep(s.ProblemId, s.Steps);
            return Task.FromResult(Record(s, k, "rule", k is null ? "all_steps_pass_rule" : "located"));
        };
    }

    static VerifiedRecord Labels(SampleRecord s)
    {
        if (s.StepLabels is null) throw new StepDpoException($"verify.method 'labels': sample {s.Id} carries no step labels (import samples with data.source: samples)");
        for (int i = 0; i < s.StepLabels.Count; i++)
        {
            if (s.StepLabels[i] is null) return Record(s, null, "labels", "unknown_label");
            if (s.StepLabels[i] == false) return Record(s, i + 1, "labels", "located");
        }
        return Record(s, null, "labels", "no_step_labelled_wrong");
    }

    /// <summary>The prefix after step i is alive when one of m continuations from it (same model, same sampling as
    /// the sample stage's backend) reaches the gold answer.</summary>
    static Func<SampleRecord, CancellationToken, Task<VerifiedRecord>> Rollout(StageContext ctx, ISampler? sampler)
    {
        var m = ctx.Manifest;
        var v = m.Verify;
        var locators = new Dictionary<string, RolloutLocator>();
        return async (s, ct) =>
        {
            // One locator per problem: wrong samples of a problem share the rollouts of their common prefixes.
            if (!locators.TryGetValue(s.ProblemId, out var locator))
            {
                RolloutOracle oracle = async (prefix, n, token) =>
                {
                    var prompt = new SamplePrompt($"{s.ProblemId}|{prefix.Length}|{ContentHasher(prefix)}",
                        PromptTemplates.RenderWithPrefix(m.Model.Template, s.Question, prefix));
                    var outs = await sampler!.SampleAsync(new[] { prompt },
                        new SampleParams(n, v.Temperature, v.TopP, v.MaxNewTokens, Array.Empty<string>(), ctx.Seed("rollout")), null, token);
                    return outs[0].Count(c => Grading.Grade(prefix + c, s.Answer, m.Evaluate.Grader).Correct);
                };
                locators[s.ProblemId] = locator = new RolloutLocator(oracle, v.Rollouts);
            }
            var split = Steps.Split(s.Solution, StepStyle.Labels);
            var prefixes = Enumerable.Range(0, split.Steps.Count + 1).Select(split.Prefix).ToList();
            var found = await locator.BinarySearchAsync(prefixes, ct);
            var estimates = found.Estimates.ToDictionary(e => e.Key.ToString(), e => e.Value);
            return Record(s, found.FirstWrongStep, "rollout", found.Outcome == RolloutOutcome.Located ? "located" : "problem_unsolved", estimates);
        };
    }

    static string ContentHasher(string text) => Core.Artifacts.ContentHasher.HashText(text)[..12];

    /// <summary>The judge (GPT-4o in the paper) through chat completions, judge.concurrency solutions at a time, each
    /// stored as soon as it is judged: a killed run asks only for the rest. What the judge cost is kept per record and
    /// summed into stage.json (judge_requests, judge_prompt_tokens, ...); the API key stays in its environment variable.</summary>
    static async Task JudgeAll(StageContext ctx, IReadOnlyList<SampleRecord> samples, IReadOnlyList<SampleRecord> todo,
        JsonlRecordStore<VerifiedRecord> store, IProgressTask bar, CancellationToken ct)
    {
        var m = ctx.Manifest;
        var j = m.Verify.Judge;
        if (todo.Count > 0)
        {
            using var backend = new OpenAiCompletionsBackend(new OpenAiOptions
            {
                BaseUrl = new Uri(j.BaseUrl),
                Model = j.Model ?? throw new StepDpoException("verify.judge.model: name the judge model (e.g. gpt-4o)"),
                Api = OpenAiApi.Chat,
                ApiKeyEnvironmentVariable = j.ApiKeyEnv,
                MaxConcurrency = j.Concurrency,
                RequestTimeout = TimeSpan.FromSeconds(j.TimeoutSeconds),
                MaxAttempts = j.MaxRetries + 1,
            });
            var locator = new JudgeLocator(backend, new JudgeOptions(MaxAttempts: m.Verify.JudgeRetries + 1, Seed: ctx.Seed("judge")));
            // The reference solution: the pool's own, else a correct sample of the same problem (imported samples
            // come without a pool).
            var pool = m.Data.Source == "samples" ? new Dictionary<string, Problem>()
                : ProblemPool.Sampling(m, ctx.Workspace).Problems.ToDictionary(p => p.Id);
            var correct = samples.Where(s => s.Correct).GroupBy(s => s.ProblemId).ToDictionary(g => g.Key, g => g.First().Solution);
            await ResumableWork.RunAsync(todo, s => s.Id, async (s, token) =>
            {
                string? reference = pool.GetValueOrDefault(s.ProblemId)?.Solution ?? correct.GetValueOrDefault(s.ProblemId);
                if (reference is null) return Record(s, null, "judge", "no_correct_solution_to_compare");
                var found = await locator.LocateAsync(s.Question, reference, s.Steps, token);
                return Record(s, found.FirstWrongStep, "judge", found.Outcome.ToString().ToLowerInvariant(),
                    labels: found.Labels.Select(l => l.ToString()).ToList()) with
                {
                    Judge = new JudgeCost(found.Answers.Count, found.Failures.Count, found.Usage.PromptTokens, found.Usage.CompletionTokens),
                };
            }, store, j.Concurrency, new Progress<WorkProgress>(w => bar.SetValue(w.Done)), ct);
            // This run's transport (not kept across a resume): what retrying cost.
            Count(ctx, "judge_http_attempts", backend.Stats.Attempts);
            Count(ctx, "judge_http_retries", backend.Stats.Retries);
            Count(ctx, "judge_http_throttled", backend.Stats.Throttled);
        }
        var costs = store.Records().Select(r => r.Judge).OfType<JudgeCost>().ToList();
        Count(ctx, "judge_requests", costs.Sum(c => (long)c.Requests));
        Count(ctx, "judge_unparseable_answers", costs.Sum(c => (long)c.Unparseable));
        Count(ctx, "judge_prompt_tokens", costs.Sum(c => c.PromptTokens));
        Count(ctx, "judge_completion_tokens", costs.Sum(c => c.CompletionTokens));
    }
}
