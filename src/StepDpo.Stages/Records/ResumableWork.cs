using StepDpo.Core;

namespace StepDpo.Stages.Records;

public sealed record WorkProgress(int Done, int Total);

/// <param name="Found">items whose record was already stored (not worked on again)</param>
/// <param name="Written">items worked on and stored by this run</param>
public sealed record WorkSummary(int Items, int Found, int Written);

/// <summary>One record per item, for stages such as verify's judge (one localisation per wrong sample): works on every
/// item whose key is not in the store yet, at most <c>concurrency</c> at a time, storing each record as soon as it is
/// ready, so a killed run resumes where it stopped.</summary>
public static class ResumableWork
{
    public static async Task<WorkSummary> RunAsync<TItem, TRecord>(
        IReadOnlyList<TItem> items,
        Func<TItem, string> keyOf,
        Func<TItem, CancellationToken, Task<TRecord>> work,
        JsonlRecordStore<TRecord> store,
        int concurrency,
        IProgress<WorkProgress>? progress,
        CancellationToken ct)
    {
        if (concurrency < 1) throw new StepDpoException($"concurrency: {concurrency} must be at least 1");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var item in items)
            if (!seen.Add(keyOf(item))) throw new StepDpoException($"item key '{keyOf(item)}' appears twice; records would collide");

        var todo = items.Where(i => !store.IsDone(keyOf(i))).ToArray();
        int found = items.Count - todo.Length, done = found, written = 0;
        var gate = new Lock();
        progress?.Report(new WorkProgress(done, items.Count));
        await Parallel.ForEachAsync(todo, new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = ct },
            async (item, token) =>
            {
                var record = await work(item, token).ConfigureAwait(false);
                if (store.KeyOf(record) != keyOf(item))
                    throw new InvalidOperationException($"record key '{store.KeyOf(record)}' should be '{keyOf(item)}'");
                store.Append(record);
                // Reported under the lock so that reports arrive in order.
                lock (gate)
                {
                    written++;
                    progress?.Report(new WorkProgress(++done, items.Count));
                }
            }).ConfigureAwait(false);
        return new WorkSummary(items.Count, found, written);
    }
}
