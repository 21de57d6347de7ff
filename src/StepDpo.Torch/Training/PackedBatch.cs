using static TorchSharp.torch;

namespace StepDpo.Torch.Training;

/// <summary>
/// One run of tokens inside a row. A segment sees itself causally and, whole, every segment on its parent chain (so two
/// completions can share one prefix). Positions start at <see cref="PositionStart"/>, so a completion that follows a
/// shared prefix continues the prefix's positions. Tokens from <see cref="ScoreFrom"/> on have their log-probability
/// summed into score group <see cref="ScoreGroup"/> (-1: not scored); token 0 of a segment is predicted by the last token
/// of its parent.
/// </summary>
public sealed record Segment(int[] Tokens, int PositionStart, int Parent = -1, int ScoreGroup = -1, int ScoreFrom = 0);

/// <summary>
/// Rows of segments turned into the tensors an <see cref="ICausalLM"/> takes (ids, positions, a boolean [B,1,T,T] mask)
/// plus the gather indices that turn its logits into per-group sums of completion log-probabilities, all on one device.
/// Padding attends only to itself, so no softmax row is empty, and is never scored. When every row is a single segment
/// (no packing, no shared prefix) there is no mask: plain causal attention gives the scored tokens exactly the same
/// context (right padding comes after them), and the model can use SDPA's causal kernels.
/// </summary>
public sealed class PackedBatch : IDisposable
{
    public required Tensor InputIds { get; init; }
    public required Tensor PositionIds { get; init; }
    /// <summary>bool [B,1,T,T], true where a query may attend to a key; null when plain causal attention is exact.</summary>
    public required Tensor? AttentionMask { get; init; }
    /// <summary>Flat index b*T+t of the logits row that predicts each scored token.</summary>
    public required Tensor PredictorIndex { get; init; }
    public required Tensor TargetIds { get; init; }
    public required Tensor GroupIndex { get; init; }
    public required int GroupCount { get; init; }
    /// <summary>Scored tokens per group (for length-normalised losses and token-mean NLL).</summary>
    public required int[] GroupTokenCounts { get; init; }
    /// <summary>Non-padding tokens forwarded.</summary>
    public required long RealTokens { get; init; }
    public int Rows => (int)InputIds.shape[0];
    public int Width => (int)InputIds.shape[1];

    /// <param name="device">where every tensor of the batch is created (the model's device; null: the CPU)</param>
    public static PackedBatch Build(IReadOnlyList<IReadOnlyList<Segment>> rows, int groupCount, Device? device = null)
    {
        int width = rows.Max(r => r.Sum(s => s.Tokens.Length));
        int b = rows.Count;
        bool causal = rows.All(r => r.Count == 1);
        var ids = new long[b * width];
        var pos = new long[b * width];
        var mask = causal ? Array.Empty<bool>() : new bool[b * width * width];
        var predictor = new List<long>();
        var target = new List<long>();
        var group = new List<long>();
        var counts = new int[groupCount];
        long real = 0;
        for (int r = 0; r < b; r++)
        {
            var segs = rows[r];
            var offset = new int[segs.Count];
            int o = 0;
            for (int s = 0; s < segs.Count; s++) { offset[s] = o; o += segs[s].Tokens.Length; }
            real += o;
            long rowBase = (long)r * width;
            for (int s = 0; s < segs.Count; s++)
            {
                var seg = segs[s];
                if (seg.Parent >= s) throw new ArgumentException($"row {r} segment {s}: parent {seg.Parent} must come before it");
                for (int k = 0; k < seg.Tokens.Length; k++)
                {
                    int q = offset[s] + k;
                    ids[rowBase + q] = seg.Tokens[k];
                    pos[rowBase + q] = seg.PositionStart + k;
                    if (!causal)
                    {
                        long maskRow = (rowBase + q) * width;
                        Array.Fill(mask, true, (int)(maskRow + offset[s]), k + 1);
                        for (int a = seg.Parent; a >= 0; a = segs[a].Parent)
                            Array.Fill(mask, true, (int)(maskRow + offset[a]), segs[a].Tokens.Length);
                    }
                    if (seg.ScoreGroup < 0 || k < seg.ScoreFrom) continue;
                    int from;
                    if (k > 0) from = q - 1;
                    else if (seg.Parent >= 0 && segs[seg.Parent].Tokens.Length > 0) from = offset[seg.Parent] + segs[seg.Parent].Tokens.Length - 1;
                    else throw new ArgumentException($"row {r} segment {s}: its first token has nothing to be predicted from");
                    predictor.Add(rowBase + from);
                    target.Add(seg.Tokens[k]);
                    group.Add(seg.ScoreGroup);
                    counts[seg.ScoreGroup]++;
                }
            }
            if (!causal)
                for (int q = o; q < width; q++) mask[(rowBase + q) * width + q] = true; // padding sees itself only
        }
        device ??= CPU;
        return new PackedBatch
        {
            InputIds = tensor(ids, [b, width], ScalarType.Int64, device: device),
            PositionIds = tensor(pos, [b, width], ScalarType.Int64, device: device),
            AttentionMask = causal ? null : tensor(mask, [b, 1, width, width], device: device),
            PredictorIndex = tensor(predictor.ToArray(), ScalarType.Int64, device: device),
            TargetIds = tensor(target.ToArray(), ScalarType.Int64, device: device),
            GroupIndex = tensor(group.ToArray(), ScalarType.Int64, device: device),
            GroupCount = groupCount,
            GroupTokenCounts = counts,
            RealTokens = real,
        };
    }

    /// <summary>Logits [N, V] (float32) of the rows that predict the scored tokens, in scoring order, from the model: the
    /// LM head runs on those rows only.</summary>
    public Tensor ScoredLogits(ICausalLM model) => model.ForwardRows(InputIds, PositionIds, AttentionMask, PredictorIndex);

    /// <summary>Sum of log p(target | context) per group, float32 [G], from the full logits [B, T, V]; differentiable.</summary>
    public Tensor GroupLogProbs(Tensor logits)
    {
        // Its own scope: a view of the logits left in the caller's scope would keep all [B*T, V] of them alive through
        // the backward pass (measured: 4 bytes per token per vocabulary entry on top of the peak).
        using var scope = NewDisposeScope();
        var logp = PredictingRows(logits).to(ScalarType.Float32).log_softmax(-1);
        return scope.MoveToOuter(GroupSums(TargetLogProbs(logp)));
    }

    /// <summary>log p(target) of each scored token [N] from the log-softmax of its predicting row [N, V].</summary>
    public Tensor TargetLogProbs(Tensor logSoftmax)
    {
        using var target = TargetIds.unsqueeze(1);
        using var picked = logSoftmax.gather(1, target);
        return picked.squeeze(1);
    }

    /// <summary>Per-token values [N] summed into their score groups [G] (float32).</summary>
    public Tensor GroupSums(Tensor perToken)
    {
        // scatter_add rather than index_add: the same sums, and its backward (a gather) runs on the meta device too.
        using var zero = zeros(GroupCount, ScalarType.Float32, device: perToken.device);
        return zero.scatter_add(0, GroupIndex, perToken.to(ScalarType.Float32));
    }

    /// <summary>The logits rows [N, V] that predict the scored tokens, in scoring order. (Indexing rather than index_select:
    /// the same gather, and libtorch's meta device carries it, so the placement test runs the losses there.)</summary>
    public Tensor PredictingRows(Tensor logits)
    {
        using var flat = logits.reshape(-1, logits.shape[^1]);
        return flat[PredictorIndex];
    }

    /// <summary>Per group, summed over its scored tokens (detached, float32 [G] each): the mean logit over the vocabulary,
    /// the entropy of the predicted distribution, and whether the target token is a top-1 prediction (TRL's
    /// logits/chosen and logits/rejected, entropy, mean_token_accuracy), from the scored rows' logits [N, V] and their
    /// log-softmax (computed once, for the loss).</summary>
    public GroupTokenStats TokenStats(Tensor rowLogits, Tensor logSoftmax)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var logp = logSoftmax.detach();
        return new GroupTokenStats(GroupSums(rowLogits.detach().mean([-1])).MoveToOuterDisposeScope(),
            GroupSums(-(logp.exp() * logp).sum(-1)).MoveToOuterDisposeScope(),
            GroupSums(TopOne(logp)).MoveToOuterDisposeScope());
    }

    /// <summary>Whether each scored token's target has the highest score of its row [N, V] (a tie counts): the top-1
    /// hit. (A max and a compare: libtorch's argmax over a row is not vectorised, and cost 15x more.)</summary>
    public Tensor TopOne(Tensor rowScores)
    {
        using var scope = NewDisposeScope();
        var best = rowScores.detach().amax([-1]);
        var target = rowScores.detach().gather(1, TargetIds.unsqueeze(1)).squeeze(1);
        return scope.MoveToOuter(target.ge(best));
    }

    public void Dispose()
    {
        InputIds.Dispose(); PositionIds.Dispose(); AttentionMask?.Dispose();
        PredictorIndex.Dispose(); TargetIds.Dispose(); GroupIndex.Dispose();
    }
}

/// <summary>Sums over each score group's tokens of the mean logit, the entropy and the top-1 hits, each [G].</summary>
public sealed record GroupTokenStats(Tensor LogitMean, Tensor Entropy, Tensor Top1) : IDisposable
{
    public void Dispose() { LogitMean.Dispose(); Entropy.Dispose(); Top1.Dispose(); }
}
