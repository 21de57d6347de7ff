using static TorchSharp.torch;

namespace StepDpo.Torch.Training;

/// <summary>
/// Layouts of a micro-batch of preference pairs. Score group 2i is pair i's chosen completion, 2i+1 its rejected one.
/// <list type="bullet">
/// <item>Shared prefix: one row [prefix | chosen | rejected]; rejected's positions restart where the prefix ended; chosen
/// and rejected both see the whole prefix, rejected does not see chosen. The prefix is forwarded once and its gradient
/// collects both completions' contributions, which is exactly the two-row computation.</item>
/// <item>Two full sequences: rows [prefix | chosen] and [prefix | rejected] (the reference implementation's layout); one
/// segment per row, so the model runs plain causal attention without a mask.</item>
/// </list>
/// Rows are padded only to the longest row of this micro-batch; the batch planner groups pairs of similar length.
/// </summary>
public static class SharedPrefixBatch
{
    /// <param name="device">where the batch is created: the model's device (null: the CPU)</param>
    public static PackedBatch Build(IReadOnlyList<TokenizedPair> pairs, bool sharedPrefix = true, Device? device = null)
    {
        var rows = new List<IReadOnlyList<Segment>>();
        for (int i = 0; i < pairs.Count; i++)
        {
            var p = pairs[i];
            int n = p.Prompt.Length;
            if (sharedPrefix)
                rows.Add([
                    new Segment(p.Prompt, 0),
                    new Segment(p.Chosen, n, Parent: 0, ScoreGroup: 2 * i),
                    new Segment(p.Rejected, n, Parent: 0, ScoreGroup: 2 * i + 1),
                ]);
            else
            {
                rows.Add([new Segment([.. p.Prompt, .. p.Chosen], 0, ScoreGroup: 2 * i, ScoreFrom: n)]);
                rows.Add([new Segment([.. p.Prompt, .. p.Rejected], 0, ScoreGroup: 2 * i + 1, ScoreFrom: n)]);
            }
        }
        return PackedBatch.Build(rows, 2 * pairs.Count, device);
    }

    /// <summary>Forward the batch and return (chosen, rejected) summed log-probs, each [pairs], plus token counts; with
    /// <paramref name="tokenStats"/> also the logit, entropy and top-1 sums of every completion (for the metrics).</summary>
    public static PairLogProbs Forward(ICausalLM model, PackedBatch batch, bool tokenStats = false)
    {
        using var rows = batch.ScoredLogits(model);
        using var logp = rows.log_softmax(-1);
        using var perToken = batch.TargetLogProbs(logp);
        using var all = batch.GroupSums(perToken);
        using var pairwise = all.reshape(-1, 2);
        var counts = batch.GroupTokenCounts;
        return new PairLogProbs(
            pairwise.select(1, 0).clone(), pairwise.select(1, 1).clone(),
            Enumerable.Range(0, counts.Length / 2).Select(i => counts[2 * i]).ToArray(),
            Enumerable.Range(0, counts.Length / 2).Select(i => counts[2 * i + 1]).ToArray(),
            tokenStats ? batch.TokenStats(rows, logp) : null);
    }
}

/// <summary>Summed completion log-probs of a micro-batch and the completion lengths they sum over; <see cref="Stats"/>
/// (when asked for) holds per-completion token sums, groups 2i (chosen) and 2i+1 (rejected) of pair i.</summary>
public sealed record PairLogProbs(Tensor Chosen, Tensor Rejected, int[] ChosenTokens, int[] RejectedTokens, GroupTokenStats? Stats = null)
    : IDisposable
{
    public void Dispose() { Chosen.Dispose(); Rejected.Dispose(); Stats?.Dispose(); }
}
