namespace StepDpo.Torch.Training;

/// <summary>
/// Deterministic epoch order with length bucketing: shuffle with (seed, epoch), cut the order into windows of
/// <see cref="WindowBatches"/> micro-batches, sort each window by length so a micro-batch holds pairs of similar length
/// (padding only to its own longest row), then shuffle the micro-batches so the step order does not follow length.
/// The same seed always gives the same plan, so a resumed run sees the same data in the same order.
/// </summary>
public static class BatchPlanner
{
    public const int WindowBatches = 32;

    public static List<int[]> Plan(IReadOnlyList<int> lengths, int microBatchSize, int seed, int epoch)
    {
        var rng = new SplitMix64((ulong)seed * 0x9E3779B97F4A7C15UL + (ulong)epoch + 1);
        int[] order = Enumerable.Range(0, lengths.Count).ToArray();
        rng.Shuffle(order);
        var batches = new List<int[]>();
        int window = microBatchSize * WindowBatches;
        for (int start = 0; start < order.Length; start += window)
        {
            var chunk = order.Skip(start).Take(window).OrderBy(i => lengths[i]).ThenBy(i => i).ToArray();
            for (int b = 0; b < chunk.Length; b += microBatchSize) batches.Add(chunk.Skip(b).Take(microBatchSize).ToArray());
        }
        var shuffled = batches.ToArray();
        rng.Shuffle(shuffled);
        return [.. shuffled];
    }

    /// <summary>Deterministic train / eval split: a seeded shuffle, the first round(fraction * n) (at least one when the
    /// fraction is positive and n > 1) go to evaluation.</summary>
    public static (int[] Train, int[] Eval) Split(int count, double evalFraction, int seed)
    {
        int[] order = Enumerable.Range(0, count).ToArray();
        new SplitMix64((ulong)seed ^ 0xE7A1_5EEDUL).Shuffle(order);
        int eval = evalFraction <= 0 || count < 2 ? 0 : Math.Clamp((int)Math.Round(evalFraction * count), 1, count - 1);
        return (order[eval..].Order().ToArray(), order[..eval].Order().ToArray());
    }
}
