using StepDpo.Stages.Backends;
using StepDpo.Stages.Records;

namespace StepDpo.Stages.Tests;

/// <summary>One stored sample, as the tests' sampling loop writes it.</summary>
public sealed record SampleRow(string Key, string ProblemId, int Index, string Text, string FinishReason);

/// <summary>The sampling loop shared by the in-process tests and the child process of the kill test.</summary>
public static class SamplingFixture
{
    public static IReadOnlyList<SampleProblem> Problems(int count) =>
        Enumerable.Range(0, count).Select(i => new SampleProblem($"p{i:000}", $"Problem {i}: what is {i} + {i}?")).ToArray();

    public static SamplingPlan Plan(int n, int samplesPerRequest = 0, int concurrency = 4) =>
        new(n, 0.8, 0.95, 64, ["\n\n\n"], Seed: 7, Concurrency: concurrency, SamplesPerRequest: samplesPerRequest);

    public static OpenAiOptions Options(Uri baseUrl, int timeoutMs = 5000, int maxAttempts = 8) => new()
    {
        BaseUrl = baseUrl,
        Model = "policy",
        MaxConcurrency = 4,
        RequestTimeout = TimeSpan.FromMilliseconds(timeoutMs),
        MaxAttempts = maxAttempts,
        InitialBackoff = TimeSpan.FromMilliseconds(5),
        MaxBackoff = TimeSpan.FromMilliseconds(40),
        JitterSeed = 1,
    };

    public static JsonlRecordStore<SampleRow> OpenStore(string path) => JsonlRecordStore<SampleRow>.Open(path, r => r.Key);

    public static SampleRunner<SampleRow> Runner(ICompletionBackend backend, JsonlRecordStore<SampleRow> store) =>
        new(backend, store, (p, i, c) => new SampleRow(SampleKey.Of(p.Id, i), p.Id, i, c.Text, c.FinishReason));

    /// <summary>Asserts the file holds exactly n samples per problem, each index once, and returns them.</summary>
    public static IReadOnlyList<SampleRow> AssertComplete(string path, int problems, int n)
    {
        using var store = OpenStore(path);
        var rows = store.Records();
        Assert.Equal(problems * n, rows.Count);
        foreach (var group in rows.GroupBy(r => r.ProblemId))
            Assert.Equal(Enumerable.Range(0, n), group.Select(r => r.Index).Order());
        Assert.Equal(problems, rows.Select(r => r.ProblemId).Distinct().Count());
        return rows;
    }
}
