using StepDpo.Torch.Training;

namespace StepDpo.Torch.Tests.Training;

/// <summary>Deterministic synthetic pairs with Step-DPO's shape: a long prefix and two short completions.</summary>
static class TestPairs
{
    public static List<TokenizedPair> Random(int count, int prefix, int step, int seed = 7, int vocab = 256)
    {
        var rng = new Random(seed);
        int[] Draw(int n) => Enumerable.Range(0, n).Select(_ => rng.Next(vocab)).ToArray();
        return Enumerable.Range(0, count)
            .Select(i => new TokenizedPair(Draw(prefix + i % 3), Draw(step + i % 2), Draw(step + (i + 1) % 3)))
            .ToList();
    }
}
