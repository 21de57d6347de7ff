using StepDpo.Core;
using StepDpo.Core.Graph;
using StepDpo.Core.Manifests;
using StepDpo.Data;
using StepDpo.Answers;
using StepDpo.Stages.Backends;
using StepDpo.Stages.Locate;
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
/// wrong solution with k (or why none), the evidence and its cost (rollouts or judge calls and tokens). When the problem
/// world has an exact step checker (the synthetic world) and the method is another, the locator is scored against the
/// checker over all samples (<see cref="ExactCheckerEvaluation"/>): locate.json, and locate_* counters in stage.json.
/// Version 3: per-record cost, locate.json, the judge over chat completions.
/// </summary>
public sealed class VerifyStage : PipelineStage
{
    public override string Name => "verify";
    public override int Version => 3;
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
        using var sampler = new StartModelSampler(ctx);
        var rollouts = RolloutOracles(ctx, sampler);
        if (m.Verify.Method == "judge") await JudgeAll(ctx, samples, todo, store, bar, ct);
        else
        {
            Func<SampleRecord, CancellationToken, Task<VerifiedRecord>> locate = m.Verify.Method switch
            {
                "rule" => Rule(ctx),
                "labels" => (s, _) => Task.FromResult(Labels(s)),
                "rollout" => Rollout(ctx, rollouts, store.Records()),
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
        if (m.Verify.Method is "rollout" or "judge" && m.Data.Source == "synthetic" && ProblemPool.Sampling(m, ctx.Workspace) is { IsSynthetic: true } pool)
            await ScoreAgainstRule(ctx, samples, all.ToDictionary(r => r.Id), pool, rollouts, ct);
    }

    /// <summary>locate.json and the locate_* counters (of the search verify ran) against the world's exact checker.</summary>
    static async Task ScoreAgainstRule(StageContext ctx, IReadOnlyList<SampleRecord> samples, IReadOnlyDictionary<string, VerifiedRecord> records,
        ProblemPool pool, Func<SampleRecord, RolloutOracle> rollouts, CancellationToken ct)
    {
        var m = ctx.Manifest;
        int? Truth(SampleRecord s) => pool.FirstWrongStep(s.ProblemId, s.Steps);
        IReadOnlyList<LocateSummary> rows;
        if (m.Verify.Method == "judge")
            rows = [ExactCheckerEvaluation.FromRecords("judge", "judge calls", samples, records, Truth, r => r.Judge?.Requests ?? 0)];
        else
        {
            using var bar = ctx.Progress.Start("verify: rollout searches against the exact checker", samples.Count * RolloutSearches.All.Count);
            rows = await ExactCheckerEvaluation.RolloutAsync(samples, Truth, rollouts, Prefixes, m.Verify.Rollouts, () => bar.Increment(), ct);
        }
        WriteJson(ctx.File(ExactCheckerEvaluation.FileName), new LocateFile(ExactCheckerEvaluation.Truth, samples.Count, rows));
        var mine = rows[0];
        ctx.Counters["locate_truth"] = ExactCheckerEvaluation.Truth;
        foreach (var (name, part) in new[] { ("exact", mine.Exact), ("early", mine.Early), ("late", mine.Late), ("missed", mine.Missed) })
            ctx.Counters[$"locate_{name}_share"] = Ratio(part, mine.Errors);
        if (mine.F1 is double f1) ctx.Counters["locate_f1"] = Math.Round(f1, 4);
        if (mine.CostPerLocatedError is double c) ctx.Counters[$"locate_{mine.CostUnit.Replace(' ', '_')}_per_located_error"] = Math.Round(c, 2);
    }

    static void WriteJson<T>(string path, T value)
    {
        string tmp = path + ".tmp";
        File.WriteAllText(tmp, System.Text.Json.JsonSerializer.Serialize(value, new System.Text.Json.JsonSerializerOptions(Json) { WriteIndented = true }));
        File.Move(tmp, path, overwrite: true);
    }

    static VerifiedRecord Record(SampleRecord s, int? k, string method, string outcome,
        IReadOnlyDictionary<string, double>? estimates = null, IReadOnlyList<string>? labels = null, int? rollouts = null) =>
        new(s.Id, s.ProblemId, s.Question, s.Answer, s.Solution, k, method, outcome, estimates, labels, rollouts);

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
    /// the sample stage's backend) reaches the gold answer; the first wrong step is found by binary search.</summary>
    static Func<SampleRecord, CancellationToken, Task<VerifiedRecord>> Rollout(StageContext ctx, Func<SampleRecord, RolloutOracle> rollouts,
        IReadOnlyList<VerifiedRecord> stored)
    {
        int m = ctx.Manifest.Verify.Rollouts;
        var locators = new Dictionary<string, RolloutLocator>();
        var storedByProblem = stored.Where(r => r.Estimates is not null).ToLookup(r => r.ProblemId);
        return async (s, ct) =>
        {
            // One locator per problem: wrong samples of a problem share the rollouts of their common prefixes. A resumed
            // run first remembers what the stored records of the problem evaluated, so each record's cost (rollouts of
            // prefixes its problem had not evaluated before) is the one an uninterrupted run records.
            if (!locators.TryGetValue(s.ProblemId, out var locator))
            {
                locators[s.ProblemId] = locator = new RolloutLocator(rollouts(s), m);
                foreach (var r in storedByProblem[s.ProblemId])
                {
                    var prefixes = Prefixes(r.Solution);
                    foreach (var (i, estimate) in r.Estimates!) locator.Remember(prefixes[int.Parse(i)], (int)Math.Round(estimate * m));
                }
            }
            var found = await locator.BinarySearchAsync(Prefixes(s), ct);
            var estimates = found.Estimates.ToDictionary(e => e.Key.ToString(), e => e.Value);
            return Record(s, found.FirstWrongStep, "rollout", found.Outcome == RolloutOutcome.Located ? "located" : "problem_unsolved", estimates,
                rollouts: found.OracleCalls * m);
        };
    }

    /// <summary>prefixes[i]: the solution up to the end of step i, i = 0..S.</summary>
    static IReadOnlyList<string> Prefixes(SampleRecord s) => Prefixes(s.Solution);

    static IReadOnlyList<string> Prefixes(string solution)
    {
        var split = Steps.Split(solution, StepStyle.Labels);
        return Enumerable.Range(0, split.Steps.Count + 1).Select(split.Prefix).ToList();
    }

    /// <summary>The rollout oracle of a sample's problem: m continuations of a prefix from the start model, counted when
    /// they reach the gold answer. Memoised: a prompt's continuations depend only on its id (problem, prefix) and the
    /// seed, so every locator that asks about a prefix gets the same answer and it is sampled once.</summary>
    static Func<SampleRecord, RolloutOracle> RolloutOracles(StageContext ctx, StartModelSampler sampler)
    {
        var m = ctx.Manifest;
        var v = m.Verify;
        var memo = new System.Collections.Concurrent.ConcurrentDictionary<(string Id, int N), int>();
        return s => async (prefix, n, token) =>
        {
            var prompt = new SamplePrompt($"{s.ProblemId}|{prefix.Length}|{ContentHasher(prefix)}",
                PromptTemplates.RenderWithPrefix(m.Model.Template, s.Question, prefix));
            if (memo.TryGetValue((prompt.Id, n), out var known)) return known;
            var outs = await (await sampler.GetAsync(token)).SampleAsync(new[] { prompt },
                new SampleParams(n, v.Temperature, v.TopP, v.MaxNewTokens, Array.Empty<string>(), ctx.Seed("rollout")), null, token);
            return memo[(prompt.Id, n)] = outs[0].Count(c => Grading.Grade(prefix + c, s.Answer, m.Evaluate.Grader).Correct);
        };
    }

    /// <summary>The start model as a sampler (local, or a server a managed backend starts), made on first use: a resumed
    /// run may need none.</summary>
    sealed class StartModelSampler(StageContext ctx) : IDisposable
    {
        ISampler? sampler;
        public async Task<ISampler> GetAsync(CancellationToken ct) => sampler ??=
            await Samplers.ForStartModelAsync(ctx, ctx.Manifest.Sample.Backend, ctx.Manifest.Sample.Endpoint, ctx.Manifest.Sample.BatchSize, ct);
        public void Dispose() => sampler?.Dispose();
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
