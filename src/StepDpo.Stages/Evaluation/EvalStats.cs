using MathNet.Numerics.Distributions;

namespace StepDpo.Stages.Evaluation;

/// <summary>Confidence intervals and tests for accuracies measured on a few hundred problems.</summary>
public static class EvalStats
{
    /// <summary>Two-sided 95% normal quantile.</summary>
    public const double Z95 = 1.959963984540054;

    /// <summary>Wilson score interval for <paramref name="correct"/> successes in <paramref name="n"/> trials.
    /// Unlike the normal (Wald) interval it stays inside [0, 1] and is not degenerate at 0% or 100%,
    /// which matters for small evaluation sets. n = 0 gives the uninformative [0, 1].</summary>
    public static (double Lo, double Hi) Wilson(int correct, int n, double z = Z95)
    {
        if (n < 0 || correct < 0 || correct > n)
            throw new ArgumentOutOfRangeException(nameof(correct), $"need 0 <= correct <= n, got {correct} of {n}");
        if (n == 0) return (0, 1);
        double p = (double)correct / n, z2 = z * z;
        double denominator = 1 + z2 / n;
        double center = (p + z2 / (2.0 * n)) / denominator;
        double half = z * System.Math.Sqrt(p * (1 - p) / n + z2 / (4.0 * n * n)) / denominator;
        // At 0 and n successes the bounds are exactly 0 and 1; say so instead of leaving rounding noise.
        return (correct == 0 ? 0 : System.Math.Max(0, center - half), correct == n ? 1 : System.Math.Min(1, center + half));
    }

    /// <summary>Exact McNemar test: under "both models are equally good" each discordant problem (right for
    /// exactly one model) is equally likely to favour either, so the smaller discordant count is
    /// Binomial(bOnly + aOnly, 1/2); two-sided p = 2 * P(X &lt;= min), capped at 1. No discordant pairs: p = 1.
    /// Exact rather than chi-square because discordant counts are small on small evaluation sets.</summary>
    public static double McNemarExactP(int bOnly, int aOnly)
    {
        if (bOnly < 0 || aOnly < 0) throw new ArgumentOutOfRangeException(nameof(bOnly), "discordant counts must be >= 0");
        int n = bOnly + aOnly;
        if (n == 0) return 1.0;
        int smaller = System.Math.Min(bOnly, aOnly);
        if (2 * smaller >= n) return 1.0; // equal counts: the tail holds at least half the mass
        double tail = 0;
        if (n <= 1000)
        {
            // P(X = i) = C(n, i) / 2^n by the recurrence P(i+1) = P(i) (n-i)/(i+1), starting from the exact
            // power of two: exact for small n (p = 0.125, not the 0.12499999999999654 that Binomial.CDF's
            // incomplete beta gives for 1 of 7), so reports and snapshots show the true value.
            double term = System.Math.ScaleB(1.0, -n);
            for (int i = 0; i <= smaller; i++)
            {
                tail += term;
                term = term * (n - i) / (i + 1);
            }
        }
        else
        {
            // 2^-n underflows; MathNet's point masses work in log space.
            for (int i = 0; i <= smaller; i++) tail += Binomial.PMF(0.5, n, i);
        }
        return System.Math.Min(1.0, 2.0 * tail);
    }

    /// <summary>Unbiased pass@k of Chen et al. (2021) from n samples of which c are correct:
    /// 1 - C(n-c, k) / C(n, k), computed as a running product so large n does not overflow.</summary>
    public static double PassAtK(int n, int c, int k)
    {
        if (k < 1 || k > n) throw new ArgumentOutOfRangeException(nameof(k), $"need 1 <= k <= n, got k={k}, n={n}");
        if (c < 0 || c > n) throw new ArgumentOutOfRangeException(nameof(c), $"need 0 <= c <= n, got c={c}, n={n}");
        if (n - c < k) return 1.0;
        double allWrong = 1.0;
        for (int i = n - c + 1; i <= n; i++) allWrong *= 1.0 - (double)k / i;
        return 1.0 - allWrong;
    }
}
