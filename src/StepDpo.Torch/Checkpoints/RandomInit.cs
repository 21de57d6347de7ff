using StepDpo.Torch.Model;
using static TorchSharp.torch;

namespace StepDpo.Torch.Checkpoints;

/// <summary>
/// Deterministic random initialisation, independent of libtorch's generator (so the same seed gives the same weights
/// on every machine and TorchSharp version): matrices ~ N(0, std²) as HF's initializer_range, norms = 1, biases = 0.
/// <paramref name="perturbNormsAndBiases"/> also randomises norm weights (1 + N(0, 0.1²)) and biases (N(0, std²)):
/// a test checkpoint where a wrong norm or bias formula shows in the logits.
/// </summary>
public static class RandomInit
{
    public static void Apply(CausalLM model, ulong seed, double? std = null, bool perturbNormsAndBiases = false)
    {
        double sigma = std ?? model.Config.InitializerRange;
        using var noGrad = no_grad();
        // Parameters in name order, each from its own stream, so adding a tensor does not shift the others.
        foreach (var (name, p) in model.named_parameters().OrderBy(p => p.name, StringComparer.Ordinal))
        {
            var rng = new SplitMix64(seed ^ Fnv1a(name));
            bool isNorm = name.EndsWith("norm.weight", StringComparison.Ordinal);
            bool isBias = name.EndsWith(".bias", StringComparison.Ordinal);
            var values = new float[p.NumberOfElements];
            for (int i = 0; i < values.Length; i++)
            {
                values[i] = (isNorm, isBias, perturbNormsAndBiases) switch
                {
                    (true, _, false) => 1f,
                    (true, _, true) => (float)(1 + 0.1 * rng.NextGaussian()),
                    (_, true, false) => 0f,
                    _ => (float)(sigma * rng.NextGaussian()),
                };
            }
            using var source = tensor(values, p.shape);
            p.copy_(source);
        }
    }

    static ulong Fnv1a(string s)
    {
        ulong h = 14695981039346656037UL;
        foreach (char c in s) { h ^= c; h *= 1099511628211UL; }
        return h;
    }
}

/// <summary>SplitMix64: a tiny, fully specified generator (same sequence everywhere).</summary>
public sealed class SplitMix64(ulong seed)
{
    ulong state = seed;

    public ulong NextULong()
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextULong() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Standard normal by Box–Muller (one value per call; simple over fast).</summary>
    public double NextGaussian()
    {
        double u1 = 1.0 - NextDouble(), u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
