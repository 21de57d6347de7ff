using StepDpo.Core;
using StepDpo.Stages.Backends;
using StepDpo.Stages.Records;
using StepDpo.Stages.Tests.Loopback;

namespace StepDpo.Stages.Tests.Records;

public class SampleRunnerTests
{
    static readonly Fault[] AllTransientFaults =
    [
        new(FaultKind.Http500), new(FaultKind.Http429, RetryAfterMs: 5), new(FaultKind.Slow, Delay: TimeSpan.FromSeconds(1)),
        new(FaultKind.Drop), new(FaultKind.DropMidBody), new(FaultKind.MalformedJson), new(FaultKind.MissingChoice),
    ];

    [Theory]
    [InlineData(0)]   // all of a problem's samples in one request
    [InlineData(1)]   // one request per sample
    public async Task Under_injected_faults_every_problem_gets_exactly_its_n_samples(int samplesPerRequest)
    {
        using var dir = new TempDir();
        var path = dir.File("samples.jsonl");
        await using var server = await LoopbackCompletionsServer.StartAsync(FaultSchedules.Random(seed: 5, rate: 0.3, AllTransientFaults));
        using var backend = new OpenAiCompletionsBackend(SamplingFixture.Options(server.BaseUrl, timeoutMs: 600));
        var reports = new List<SampleProgress>();

        SampleRunSummary summary;
        using (var store = SamplingFixture.OpenStore(path))
            summary = await SamplingFixture.Runner(backend, store).RunAsync(
                SamplingFixture.Problems(12), SamplingFixture.Plan(n: 4, samplesPerRequest), new SyncProgress<SampleProgress>(reports.Add), CancellationToken.None);

        SamplingFixture.AssertComplete(path, problems: 12, n: 4);
        Assert.Equal(new SampleRunSummary(12, 0, 48, samplesPerRequest == 0 ? 12 : 48), summary);
        Assert.True(backend.Stats.Retries > 0, backend.Stats.ToString());
        Assert.Equal(new SampleProgress(12, 12, 48, 48), reports[^1]);
        Assert.Equal(reports.Select(r => r.SamplesDone).Order(), reports.Select(r => r.SamplesDone));
    }

    [Fact]
    public async Task A_hard_cancel_and_a_torn_line_then_a_rerun_neither_lose_nor_duplicate()
    {
        using var dir = new TempDir();
        var path = dir.File("samples.jsonl");
        const int problems = 20, n = 3;
        var slowish = new Fault(FaultKind.Slow, Delay: TimeSpan.FromMilliseconds(15));
        await using var server = await LoopbackCompletionsServer.StartAsync(FaultSchedules.Always(slowish));
        using var backend = new OpenAiCompletionsBackend(SamplingFixture.Options(server.BaseUrl));

        using (var store = SamplingFixture.OpenStore(path))
        using (var cts = new CancellationTokenSource())
        {
            var progress = new SyncProgress<SampleProgress>(p => { if (p.SamplesDone >= 20) cts.Cancel(); });
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => SamplingFixture.Runner(backend, store)
                .RunAsync(SamplingFixture.Problems(problems), SamplingFixture.Plan(n, samplesPerRequest: 1), progress, cts.Token));
        }
        // Then the process "dies" in the middle of writing one more line.
        var written = File.ReadAllLines(path).Length;
        Assert.InRange(written, 20, problems * n - 1);
        const string tornLine = """{"key":"p019#2","problemId":"p01""";
        File.AppendAllText(path, tornLine);

        // Answers of the interrupted run may still be on their way out of the server; let them land first.
        await server.QuiesceAsync();
        var servedBefore = server.ChoicesServed;
        using (var store = SamplingFixture.OpenStore(path))
        {
            Assert.Equal(new StoreRecovery(written, tornLine.Length), store.Recovery);
            var summary = await SamplingFixture.Runner(backend, store)
                .RunAsync(SamplingFixture.Problems(problems), SamplingFixture.Plan(n, samplesPerRequest: 1), null, CancellationToken.None);
            Assert.Equal(written, summary.SamplesFound);
            Assert.Equal(problems * n - written, summary.SamplesWritten);
        }
        // Nothing already stored was requested again.
        Assert.Equal(problems * n - written, server.ChoicesServed - servedBefore);
        var rows = SamplingFixture.AssertComplete(path, problems, n);

        // Per-sample derived seeds: the resumed run holds exactly what an uninterrupted one would.
        var reference = dir.File("reference.jsonl");
        using (var store = SamplingFixture.OpenStore(reference))
            await SamplingFixture.Runner(backend, store)
                .RunAsync(SamplingFixture.Problems(problems), SamplingFixture.Plan(n, samplesPerRequest: 1), null, CancellationToken.None);
        Assert.Equal(SamplingFixture.AssertComplete(reference, problems, n).OrderBy(r => r.Key, StringComparer.Ordinal),
            rows.OrderBy(r => r.Key, StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_complete_store_makes_no_request_at_all()
    {
        using var dir = new TempDir();
        var path = dir.File("samples.jsonl");
        await using var server = await LoopbackCompletionsServer.StartAsync();
        using var backend = new OpenAiCompletionsBackend(SamplingFixture.Options(server.BaseUrl));
        for (var run = 0; run < 2; run++)
        {
            using var store = SamplingFixture.OpenStore(path);
            await SamplingFixture.Runner(backend, store).RunAsync(SamplingFixture.Problems(5), SamplingFixture.Plan(2), null, CancellationToken.None);
        }
        Assert.Equal(5, server.Calls);
    }

    [Fact]
    public async Task Duplicate_problem_ids_are_refused_before_any_request()
    {
        using var dir = new TempDir();
        await using var server = await LoopbackCompletionsServer.StartAsync();
        using var backend = new OpenAiCompletionsBackend(SamplingFixture.Options(server.BaseUrl));
        using var store = SamplingFixture.OpenStore(dir.File("s.jsonl"));
        var problems = new[] { new SampleProblem("x", "1"), new SampleProblem("x", "2") };

        var error = await Assert.ThrowsAsync<StepDpoException>(() =>
            SamplingFixture.Runner(backend, store).RunAsync(problems, SamplingFixture.Plan(2), null, CancellationToken.None));
        Assert.Contains("'x' appears twice", error.Message);
        Assert.Equal(0, server.Calls);
    }

    [Fact]
    public void Derived_seeds_are_stable_and_distinct()
    {
        Assert.Equal(SeedDerivation.Derive(7, "p001", 3), SeedDerivation.Derive(7, "p001", 3));
        var seeds = Enumerable.Range(0, 50).SelectMany(p => Enumerable.Range(0, 8).Select(i => SeedDerivation.Derive(7, $"p{p}", i))).ToArray();
        Assert.Equal(seeds.Length, seeds.Distinct().Count());
        Assert.All(seeds, s => Assert.InRange(s, 0, int.MaxValue));
        Assert.NotEqual(SeedDerivation.Derive(7, "p1", 0), SeedDerivation.Derive(8, "p1", 0));
    }
}

/// <summary>IProgress that reports on the caller's thread (Progress&lt;T&gt; posts to the thread pool, too late for asserts).</summary>
public sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
{
    readonly Lock gate = new();
    public void Report(T value) { lock (gate) report(value); }
}
