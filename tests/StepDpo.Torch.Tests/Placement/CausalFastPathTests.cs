using StepDpo.Torch.Checkpoints;
using StepDpo.Torch.Tests.Training;
using StepDpo.Torch.Training;
using static TorchSharp.torch;

namespace StepDpo.Torch.Tests.Placement;

/// <summary>Rows without packing carry no mask, so the model runs SDPA's causal kernels; the log-probs must be those of
/// the masked path (explicit causal mask with right padding) on the real Qwen2 and Llama fixtures.</summary>
public class CausalFastPathTests
{
    [Theory]
    [InlineData("qwen2-micro")]
    [InlineData("llama-micro")]
    public void Unpacked_rows_score_exactly_as_with_an_explicit_mask(string model)
    {
        using var lm = Checkpoint.Load(Fixtures.Folder(model));
        var pairs = TestPairs.Random(3, prefix: 7, step: 3, vocab: lm.VocabSize);
        using var batch = SharedPrefixBatch.Build(pairs, sharedPrefix: false, lm.Device);
        Assert.Null(batch.AttentionMask);

        // The mask PackedBatch would have built: causal over each row's real tokens, padding sees itself only.
        long b = batch.Rows, t = batch.Width;
        var lengths = pairs.SelectMany(p => new[] { p.Prompt.Length + p.Chosen.Length, p.Prompt.Length + p.Rejected.Length }).ToArray();
        var mask = new bool[b * t * t];
        for (int r = 0; r < b; r++)
            for (int q = 0; q < t; q++)
                for (int k = 0; k < t; k++)
                    mask[(r * t + q) * t + k] = q < lengths[r] ? k <= q : k == q;
        using var explicitMask = tensor(mask, [b, 1, t, t], device: lm.Device);

        using var noGrad = no_grad();
        using var causalLogits = lm.Forward(batch.InputIds, batch.PositionIds, null);
        using var maskedLogits = lm.Forward(batch.InputIds, batch.PositionIds, explicitMask);
        using var causal = batch.GroupLogProbs(causalLogits);
        using var masked = batch.GroupLogProbs(maskedLogits);
        Assert.True(Fixtures.MaxAbsDiff(causal, masked) < 1e-4, $"{model}: max |log-prob diff| {Fixtures.MaxAbsDiff(causal, masked):E2}");
    }
}
