using StepDpo.Core;
using StepDpo.Stages.Backends;

namespace StepDpo.Stages.Records;

/// <summary>A problem to sample for: a unique id and its prompt, already rendered with the template.</summary>
public sealed record SampleProblem(string Id, string Prompt);

/// <summary>How to sample. <see cref="SamplesPerRequest"/> of 0 asks for all of a problem's missing samples in one
/// request (cheapest: the server shares the prompt); 1 makes every sample its own request with its own derived
/// seed, so results do not depend on where a run was interrupted.</summary>
public sealed record SamplingPlan(
    int N,
    double Temperature,
    double TopP,
    int MaxTokens,
    IReadOnlyList<string> Stop,
    long? Seed,
    int Concurrency = 8,
    int SamplesPerRequest = 0);

public sealed record SampleProgress(int ProblemsDone, int ProblemsTotal, long SamplesDone, long SamplesTotal);

/// <param name="SamplesFound">samples already in the store when the run started (not requested again)</param>
/// <param name="SamplesWritten">samples requested and appended by this run</param>
public sealed record SampleRunSummary(int Problems, long SamplesFound, long SamplesWritten, int Requests);

/// <summary>Requests what is missing from a record store: for every problem the sample indices 0..n-1 whose key
/// (<see cref="SampleKey.Of"/>) is not stored yet, with at most <see cref="SamplingPlan.Concurrency"/> requests in
/// flight, appending each answer as soon as it arrives. Used by the sample, pairs and evaluate stages; what a
/// record holds (steps, verdict) is the stage's business, given as <paramref name="makeRecord"/>.</summary>
public sealed class SampleRunner<TRecord>(
    ICompletionBackend backend,
    JsonlRecordStore<TRecord> store,
    Func<SampleProblem, int, Completion, TRecord> makeRecord)
{
    sealed record Chunk(SampleProblem Problem, int[] Indices);

    public async Task<SampleRunSummary> RunAsync(
        IReadOnlyList<SampleProblem> problems, SamplingPlan plan, IProgress<SampleProgress>? progress, CancellationToken ct)
    {
        Validate(problems, plan);
        var chunks = new List<Chunk>();
        var missingPerProblem = new Dictionary<string, int>(StringComparer.Ordinal);
        long found = 0;
        foreach (var p in problems)
        {
            var missing = Enumerable.Range(0, plan.N).Where(i => !store.IsDone(SampleKey.Of(p.Id, i))).ToArray();
            found += plan.N - missing.Length;
            if (missing.Length > 0) missingPerProblem[p.Id] = missing.Length;
            var size = plan.SamplesPerRequest == 0 ? plan.N : plan.SamplesPerRequest;
            chunks.AddRange(missing.Chunk(size).Select(c => new Chunk(p, c)));
        }

        long total = (long)problems.Count * plan.N, done = found, written = 0;
        var problemsDone = problems.Count - missingPerProblem.Count;
        var gate = new Lock();
        progress?.Report(new SampleProgress(problemsDone, problems.Count, done, total));

        await Parallel.ForEachAsync(chunks, new ParallelOptions { MaxDegreeOfParallelism = plan.Concurrency, CancellationToken = ct },
            async (chunk, token) =>
            {
                var request = new CompletionRequest(chunk.Problem.Prompt, chunk.Indices.Length, plan.Temperature, plan.TopP,
                    plan.MaxTokens, plan.Stop, plan.Seed is { } s ? SeedDerivation.Derive(s, chunk.Problem.Id, chunk.Indices[0]) : null);
                var completions = await backend.CompleteAsync(request, token).ConfigureAwait(false);
                if (completions.Count != chunk.Indices.Length)
                    throw new InvalidOperationException($"backend returned {completions.Count} completions for n={chunk.Indices.Length}");
                var records = new TRecord[completions.Count];
                for (var i = 0; i < records.Length; i++)
                {
                    records[i] = makeRecord(chunk.Problem, chunk.Indices[i], completions[i]);
                    var expected = SampleKey.Of(chunk.Problem.Id, chunk.Indices[i]);
                    if (store.KeyOf(records[i]) != expected)
                        throw new InvalidOperationException($"record key '{store.KeyOf(records[i])}' should be '{expected}'");
                }
                store.AppendBatch(records);
                SampleProgress report;
                lock (gate)
                {
                    done += records.Length;
                    written += records.Length;
                    if ((missingPerProblem[chunk.Problem.Id] -= records.Length) == 0) problemsDone++;
                    report = new SampleProgress(problemsDone, problems.Count, done, total);
                }
                progress?.Report(report);
            }).ConfigureAwait(false);

        return new SampleRunSummary(problems.Count, found, written, chunks.Count);
    }

    static void Validate(IReadOnlyList<SampleProblem> problems, SamplingPlan plan)
    {
        if (plan.N < 1) throw new StepDpoException($"sampling.n: {plan.N} must be at least 1");
        if (plan.Concurrency < 1) throw new StepDpoException($"sampling.concurrency: {plan.Concurrency} must be at least 1");
        if (plan.SamplesPerRequest < 0) throw new StepDpoException($"sampling.samples_per_request: {plan.SamplesPerRequest} must be 0 (all) or positive");
        if (plan.Temperature < 0) throw new StepDpoException($"sampling.temperature: {plan.Temperature} must not be negative");
        if (plan.TopP is <= 0 or > 1) throw new StepDpoException($"sampling.top_p: {plan.TopP} must be in (0, 1]");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var p in problems)
            if (!seen.Add(p.Id)) throw new StepDpoException($"problem id '{p.Id}' appears twice in the pool; sample keys would collide");
    }
}
