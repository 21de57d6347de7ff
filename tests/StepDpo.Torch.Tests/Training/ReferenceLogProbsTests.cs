using StepDpo.Core;
using StepDpo.Torch.Training;
using static TorchSharp.torch;

namespace StepDpo.Torch.Tests.Training;

public class ReferenceLogProbsTests
{
    [Fact]
    public void Reference_logprobs_are_computed_once_and_recomputed_when_the_key_changes()
    {
        using var dir = new TempDir();
        var model = new TinyCausalLM(seed: 12);
        var pairs = TestPairs.Random(5, prefix: 9, step: 4);
        string path = dir.Sub(ReferenceLogProbs.FileName);
        int loads = 0;
        ICausalLM Load() { loads++; return model; }

        var first = ReferenceLogProbs.ComputeOrLoad(Load, pairs, path, "tiny@1", "max_length=64", disposeReference: false);
        var again = ReferenceLogProbs.ComputeOrLoad(Load, pairs, path, "tiny@1", "max_length=64", disposeReference: false);
        Assert.Equal(1, loads);
        Assert.Equal(first.Chosen, again.Chosen);
        ReferenceLogProbs.ComputeOrLoad(Load, pairs, path, "tiny@1", "max_length=32", disposeReference: false);
        Assert.Equal(2, loads);

        // The cached values are the two-full-sequence log-probs of the reference model.
        using var batch = SharedPrefixBatch.Build(pairs, sharedPrefix: false);
        using var _ = no_grad();
        using var lp = SharedPrefixBatch.Forward(model, batch);
        var expected = lp.Chosen.data<float>().ToArray();
        for (int i = 0; i < pairs.Count; i++) Assert.Equal(expected[i], first.Chosen[i], 4);
        Assert.Equal(pairs.Select(p => p.Rejected.Length), first.RejectedTokens);
    }

    [Fact]
    public void A_damaged_cache_file_names_the_line()
    {
        using var dir = new TempDir();
        string path = dir.Sub("r.jsonl");
        File.WriteAllLines(path, ["""{"key":"k","count":2}""", """{"chosen":1,"rejected":2,"chosen_tokens":1,"rejected_tokens":1}""", "{oops"]);
        var e = Assert.Throws<StepDpoException>(() => ReferenceLogps.Load(path));
        Assert.StartsWith($"{path}: line 3:", e.Message);
    }
}
