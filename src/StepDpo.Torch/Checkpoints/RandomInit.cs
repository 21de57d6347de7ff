using StepDpo.Torch.Model;
using static TorchSharp.torch;

namespace StepDpo.Torch.Checkpoints;

/// <summary>
/// Deterministic random initialisation, independent of libtorch's generator (so the same seed gives the same weights
/// on every machine and TorchSharp version): matrices ~ N(0, std²) as HF's initializer_range, norms = 1, biases = 0.
/// With perturbNormsAndBiases it also randomises norm weights (1 + N(0, 0.1²)) and biases (N(0, std²)):
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
            using var source = tensor(values, p.shape, device: CPU); // generated on the host, copied to the model's device
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
