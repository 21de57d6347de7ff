using StepDpo.Torch.Training;
using static TorchSharp.torch;

namespace StepDpo.Torch.Tests.Training;

/// <summary>The shared-prefix row must give the same log-probs, loss and gradients as two full sequences.</summary>
public class SharedPrefixEquivalenceTests
{
    static (double Loss, Dictionary<string, float[]> Grads, float[] Chosen, float[] Rejected) LossAndGrads(
        TinyCausalLM model, List<TokenizedPair> pairs, bool shared, bool checkpointing = false)
    {
        model.GradientCheckpointing = checkpointing;
        model.train();
        foreach (var p in model.parameters()) p.grad = null;
        using var batch = SharedPrefixBatch.Build(pairs, shared);
        using var lp = SharedPrefixBatch.Forward(model, batch);
        // A fixed, non-trivial reference so the loss is not symmetric in chosen / rejected.
        using var refC = lp.Chosen.detach() - 0.3;
        using var refR = lp.Rejected.detach() + 0.2;
        using var output = DpoLoss.Compute(DpoLossType.Sigmoid, new LossSettings(0.5),
            new PairLogps(lp.Chosen, lp.Rejected, refC, refR, ones_like(refC), ones_like(refR)));
        var loss = output.Loss;
        loss.backward();
        var grads = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.data<float>().ToArray());
        return (loss.item<float>(), grads, lp.Chosen.data<float>().ToArray(), lp.Rejected.data<float>().ToArray());
    }

    [Fact]
    public void Loss_logprobs_and_gradients_equal_the_two_sequence_computation_in_fp32()
    {
        var model = new TinyCausalLM(seed: 3);
        var pairs = TestPairs.Random(3, prefix: 24, step: 6);
        var full = LossAndGrads(model, pairs, shared: false);
        var shared = LossAndGrads(model, pairs, shared: true);

        Assert.Equal(full.Loss, shared.Loss, 1e-5);
        for (int i = 0; i < pairs.Count; i++)
        {
            Assert.Equal(full.Chosen[i], shared.Chosen[i], 1e-4); // sums of ~6 log-probs around -5.5 each
            Assert.Equal(full.Rejected[i], shared.Rejected[i], 1e-4);
        }
        AssertGradsClose(full.Grads, shared.Grads, 1e-5);
    }

    [Fact]
    public void Activation_checkpointing_gives_the_same_gradients()
    {
        var model = new TinyCausalLM(seed: 4);
        var pairs = TestPairs.Random(2, prefix: 20, step: 5);
        var plain = LossAndGrads(model, pairs, shared: true);
        long before = ActivationCheckpoint.Recomputations;
        var recomputed = LossAndGrads(model, pairs, shared: true, checkpointing: true);
        Assert.True(ActivationCheckpoint.Recomputations - before >= 2, "each of the 2 blocks is recomputed in backward");
        Assert.Equal(plain.Loss, recomputed.Loss, 1e-6);
        AssertGradsClose(plain.Grads, recomputed.Grads, 1e-6);
    }

    [Fact]
    public void Rejected_does_not_see_chosen_and_positions_restart_after_the_prefix()
    {
        var pair = new TokenizedPair([1, 2, 3], [4, 5], [6, 7, 8]);
        using var b = SharedPrefixBatch.Build([pair]);
        Assert.Equal(new long[] { 0, 1, 2, 3, 4, 3, 4, 5 }, b.PositionIds.data<long>().ToArray());
        var mask = b.AttentionMask!.data<bool>().ToArray();
        bool Sees(int q, int k) => mask[q * 8 + k];
        Assert.True(Sees(5, 0) && Sees(5, 2) && Sees(5, 5)); // rejected sees the prefix and itself
        Assert.False(Sees(5, 3) || Sees(5, 4) || Sees(5, 6)); // not chosen, not its own future
        Assert.True(Sees(4, 3) && !Sees(3, 4) && !Sees(2, 3));
        // chosen[0] and rejected[0] are both predicted by the last prefix token (flat index 2)
        Assert.Equal(new long[] { 2, 3, 2, 5, 6 }, b.PredictorIndex.data<long>().ToArray());
        Assert.Equal(new long[] { 4, 5, 6, 7, 8 }, b.TargetIds.data<long>().ToArray());
        Assert.Equal(new[] { 2, 3 }, b.GroupTokenCounts);
    }

    internal static void AssertGradsClose(Dictionary<string, float[]> expected, Dictionary<string, float[]> actual, double tol)
    {
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (name, e) in expected)
        {
            var a = actual[name];
            double scale = Math.Max(1e-3, e.Max(v => Math.Abs(v)));
            double worst = e.Zip(a, (x, y) => Math.Abs(x - y)).Max();
            Assert.True(worst <= tol * scale, $"{name}: max |diff| {worst:g3} > {tol:g1} x {scale:g3}");
        }
    }
}
