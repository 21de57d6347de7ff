using System.Text.Json.Serialization;
using StepDpo.Core;
using StepDpo.Core.Graph;
using StepDpo.Core.Manifests;
using StepDpo.Data;
using StepDpo.Stages.Backends;
using StepDpo.Stages.Implementations;
using StepDpo.Stages.Locate;
using StepDpo.Stages.Pool;
using StepDpo.Stages.Records;

namespace StepDpo.Stages.Verify;

/// <summary>`judge`: a judge model (GPT-4o in the paper) over chat completions, judge.concurrency solutions at a time,
/// each stored as soon as it is judged: a killed run asks only for the rest. What the judge cost is kept per record and
/// summed into stage.json (judge_requests, judge_prompt_tokens, ...); the API key stays in its environment variable.
/// The judge's server and model are keyed; the client's concurrency, timeouts, retries and key variable are not.</summary>
public sealed class JudgeVerifier : Verifier
{
    public override string Name => "judge";

    /// <param name="Pool">the problems with their reference solutions; null for imported samples (then a correct sample
    /// of the same problem is the reference)</param>
    public sealed record Settings(string BaseUrl, string? Model, int Retries,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] DataSlice? Pool)
    {
        [JsonIgnore] public EndpointSection Client { get; init; } = new();
    }

    public override object Read(ManifestReader<Manifest> m)
    {
        var v = m.Section(x => x.Verify);
        return new Settings(v.Get(x => x.Judge.BaseUrl), v.Get(x => x.Judge.Model), v.Get(x => x.JudgeRetries),
            m.Get(x => x.Data.Source) == "samples" ? null : Slices.Pool(m)) { Client = v.GetUnkeyed(x => x.Judge) };
    }

    public override void Check(ReadinessCheck check, object settings, bool startModelTrainedUpstream) =>
        check.Secret(((Settings)settings).Client.ApiKeyEnv, "verify.judge.api_key_env");

    public override async Task RunAsync(VerifyJob job, object settings, CancellationToken ct)
    {
        var s = (Settings)settings;
        var ctx = job.Context;
        var pool = s.Pool is null ? null : ProblemPool.Sampling(job.Seed, s.Pool, ctx.Workspace);
        if (job.Todo.Count > 0)
        {
            var j = s.Client;
            using var backend = new OpenAiCompletionsBackend(new OpenAiOptions
            {
                BaseUrl = new Uri(s.BaseUrl),
                Model = s.Model ?? throw new StepDpoException("verify.judge.model: name the judge model (e.g. gpt-4o)"),
                Api = OpenAiApi.Chat,
                ApiKeyEnvironmentVariable = j.ApiKeyEnv,
                MaxConcurrency = j.Concurrency,
                RequestTimeout = TimeSpan.FromSeconds(j.TimeoutSeconds),
                MaxAttempts = j.MaxRetries + 1,
            });
            var locator = new JudgeLocator(backend, new JudgeOptions(MaxAttempts: s.Retries + 1, Seed: ctx.Seed(job.Seed, "judge")));
            // The reference solution: the pool's own, else a correct sample of the same problem.
            var references = pool?.Problems.ToDictionary(p => p.Id) ?? new Dictionary<string, Problem>();
            var correct = job.Samples.Where(x => x.Correct).GroupBy(x => x.ProblemId).ToDictionary(g => g.Key, g => g.First().Solution);
            await ResumableWork.RunAsync(job.Todo, x => x.Id, async (sample, token) =>
            {
                string? reference = references.GetValueOrDefault(sample.ProblemId)?.Solution ?? correct.GetValueOrDefault(sample.ProblemId);
                if (reference is null) return VerifyJob.Record(sample, null, Name, "no_correct_solution_to_compare");
                var found = await locator.LocateAsync(sample.Question, reference, sample.Steps, token);
                return VerifyJob.Record(sample, found.FirstWrongStep, Name, found.Outcome.ToString().ToLowerInvariant(),
                    labels: found.Labels.Select(l => l.ToString()).ToList()) with
                {
                    Judge = new JudgeCost(found.Answers.Count, found.Failures.Count, found.Usage.PromptTokens, found.Usage.CompletionTokens),
                };
            }, job.Store, j.Concurrency, new Progress<WorkProgress>(w => job.Bar.SetValue(w.Done)), ct);
            // This run's transport (not kept across a resume): what retrying cost.
            ctx.Count("judge_http_attempts", backend.Stats.Attempts);
            ctx.Count("judge_http_retries", backend.Stats.Retries);
            ctx.Count("judge_http_throttled", backend.Stats.Throttled);
        }
        var records = job.Store.Records();
        var costs = records.Select(r => r.Judge).OfType<JudgeCost>().ToList();
        ctx.Count("judge_requests", costs.Sum(c => (long)c.Requests));
        ctx.Count("judge_unparseable_answers", costs.Sum(c => (long)c.Unparseable));
        ctx.Count("judge_prompt_tokens", costs.Sum(c => c.PromptTokens));
        ctx.Count("judge_completion_tokens", costs.Sum(c => c.CompletionTokens));
        if (pool is { IsSynthetic: true })
            job.WriteLocate([ExactCheckerEvaluation.FromRecords(Name, "judge calls", job.Samples, records.ToDictionary(r => r.Id),
                x => pool.FirstWrongStep(x.ProblemId, x.Steps), r => r.Judge?.Requests ?? 0)]);
    }
}
