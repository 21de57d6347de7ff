using StepDpo.Core;
using StepDpo.Stages.Records;
using StepDpo.Stages.Tests.Loopback;
using StepDpo.Stages.Backends;
using StepDpo.Stages.Verify;

namespace StepDpo.Stages.Tests.Records;

public class ResumableWorkTests
{
    public sealed record Located(string Key, int? FirstWrongStep, int Calls);

    /// <summary>A verify-like job: judge each wrong sample through the loopback endpoint, with faults, and resume.</summary>
    [Fact]
    public async Task Only_missing_items_are_worked_on_and_a_failure_keeps_what_was_stored()
    {
        using var dir = new TempDir();
        var path = dir.File("verify.jsonl");
        var items = Enumerable.Range(0, 30).Select(i => (Key: $"s{i:00}", Steps: 3 + i % 5)).ToArray();
        // The judge always finds step 2 wrong, except for sample s13, whose answers it cannot read; 20% of calls fail in transport.
        await using var server = await LoopbackCompletionsServer.StartAsync(
            FaultSchedules.Random(3, 0.2, new Fault(FaultKind.Http500), new Fault(FaultKind.Drop)),
            (r, _) => r.Prompt.Contains("Problem 13") ? "no decision" : $"Final Decision: Step 1: correct; Step 2: incorrect");
        using var backend = new OpenAiCompletionsBackend(SamplingFixture.Options(server.BaseUrl) with { Api = OpenAiApi.Chat });
        var judge = new JudgeLocator(backend, new JudgeOptions(MaxAttempts: 2));
        async Task<Located> Work((string Key, int Steps) item, CancellationToken ct)
        {
            var number = int.Parse(item.Key[1..]);
            var result = await judge.LocateAsync($"Problem {number}", "solution", Enumerable.Range(1, item.Steps).Select(s => $"s{s}").ToArray(), ct);
            if (result.Outcome == JudgeOutcome.Unparseable) throw new StepDpoException($"{item.Key}: judge gave no readable decision");
            return new Located(item.Key, result.FirstWrongStep, result.Answers.Count);
        }

        using (var store = JsonlRecordStore<Located>.Open(path, r => r.Key))
        {
            var error = await Assert.ThrowsAsync<StepDpoException>(() =>
                ResumableWork.RunAsync(items, i => i.Key, Work, store, concurrency: 1, null, CancellationToken.None));
            Assert.Contains("s13", error.Message);
            Assert.Equal(13, store.Count);   // s00..s12, done before the failure, are kept
        }

        var calls = judge.Stats.Calls;
        using (var store = JsonlRecordStore<Located>.Open(path, r => r.Key))
        {
            var all = items.Where(i => i.Key != "s13").ToArray();
            var reports = new List<WorkProgress>();
            var summary = await ResumableWork.RunAsync(all, i => i.Key, Work, store, concurrency: 4,
                new SyncProgress<WorkProgress>(reports.Add), CancellationToken.None);
            Assert.Equal(new WorkSummary(29, 13, 16), summary);
            Assert.Equal(Enumerable.Range(13, 17).Select(d => new WorkProgress(d, 29)), reports);
            Assert.Equal(29, store.Records().Select(r => r.Key).Distinct().Count());
            Assert.All(store.Records(), r => Assert.Equal(2, r.FirstWrongStep));
        }
        Assert.Equal(16, judge.Stats.Calls - calls);
    }
}

/// <summary>IProgress that reports on the caller's thread (Progress&lt;T&gt; posts to the thread pool, too late for asserts).</summary>
public sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
{
    readonly Lock gate = new();
    public void Report(T value) { lock (gate) report(value); }
}
