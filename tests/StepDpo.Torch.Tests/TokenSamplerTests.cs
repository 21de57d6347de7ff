using StepDpo.Torch.Generation;

namespace StepDpo.Torch.Tests;

public class TokenSamplerTests
{
    static readonly float[] Logits = [2.0f, 1.0f, 0.5f, 0.0f, -1.0f, -3.0f];

    static double[] Frequencies(SamplingOptions options, int draws = 40000)
    {
        var sampler = new TokenSampler(options);
        var rng = new SplitMix64(123);
        var counts = new double[Logits.Length];
        for (int i = 0; i < draws; i++) counts[sampler.Sample(Logits, rng).Token]++;
        return counts.Select(c => c / draws).ToArray();
    }

    static double[] Softmax(IEnumerable<double> x)
    {
        var e = x.Select(Math.Exp).ToArray();
        return e.Select(v => v / e.Sum()).ToArray();
    }

    static void AssertDistribution(double[] expected, double[] actual)
    {
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) < 0.01, $"token {i}: expected {expected[i]:F3}, sampled {actual[i]:F3}");
    }

    [Fact]
    public void Temperature_samples_softmax_of_scaled_logits()
    {
        AssertDistribution(Softmax(Logits.Select(l => l / 0.7)), Frequencies(new SamplingOptions { Temperature = 0.7 }));
    }

    [Fact]
    public void Top_k_renormalises_over_the_k_largest()
    {
        var expected = Softmax(Logits.Take(3).Select(l => (double)l)).Concat([0, 0, 0]).ToArray();
        AssertDistribution(expected, Frequencies(new SamplingOptions { TopK = 3 }));
    }

    [Fact]
    public void Top_p_keeps_the_smallest_prefix_reaching_p()
    {
        var p = Softmax(Logits.Select(l => (double)l));
        // p ≈ [0.563, 0.207, 0.126, 0.076, 0.028, 0.004]; with top-p 0.8 the first two hold 0.770 < 0.8, so three are kept.
        Assert.True(p[0] + p[1] < 0.8 && p[0] + p[1] + p[2] >= 0.8);
        var expected = Softmax(Logits.Take(3).Select(l => (double)l)).Concat([0, 0, 0]).ToArray();
        AssertDistribution(expected, Frequencies(new SamplingOptions { TopP = 0.8 }));
    }

    [Fact]
    public void Log_prob_is_under_the_unfiltered_distribution()
    {
        var sampler = new TokenSampler(new SamplingOptions { Temperature = 0 });
        var (token, logprob) = sampler.Sample(Logits, new SplitMix64(1));
        Assert.Equal(0, token);
        Assert.Equal(Math.Log(Softmax(Logits.Select(l => (double)l))[0]), logprob, 5);
    }

    [Fact]
    public void Large_vocabulary_top_p_agrees_with_full_sort()
    {
        // The threshold shortcut must keep exactly the nucleus a full sort keeps.
        var rng = new SplitMix64(5);
        var logits = Enumerable.Range(0, 50000).Select(_ => (float)(3 * rng.NextGaussian())).ToArray();
        var sampler = new TokenSampler(new SamplingOptions { TopP = 0.9 });
        var order = Enumerable.Range(0, logits.Length).OrderByDescending(i => logits[i]).ToArray();
        double max = logits.Max(), total = logits.Sum(l => Math.Exp(l - max)), mass = 0;
        var nucleus = new HashSet<int>();
        foreach (int i in order) { if (nucleus.Count > 0 && mass >= 0.9 * total) break; nucleus.Add(i); mass += Math.Exp(logits[i] - max); }
        var draws = new SplitMix64(77);
        for (int k = 0; k < 300; k++) Assert.Contains(sampler.Sample(logits, draws).Token, nucleus);
    }
}
