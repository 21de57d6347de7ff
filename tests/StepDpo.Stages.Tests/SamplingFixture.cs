using StepDpo.Stages.Backends;
using StepDpo.Stages.Records;

namespace StepDpo.Stages.Tests;

/// <summary>One stored record of the record store tests.</summary>
public sealed record SampleRow(string Key, string ProblemId, int Index, string Text, string FinishReason);

/// <summary>The loopback client options and the record store the tests share.</summary>
public static class SamplingFixture
{
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

    /// <summary>Asserts the file holds exactly n records per problem, each index once, and returns them.</summary>
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
