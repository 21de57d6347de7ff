using MathNet.Numerics;
using StepDpo.Stages.Evaluation;

namespace StepDpo.Stages.Tests.Evaluation;

public class EvalStatsTests
{
    [Fact]
    public void Wilson_matches_published_values_and_stays_in_the_unit_interval()
    {
        var (lo, hi) = EvalStats.Wilson(5, 10);
        Assert.Equal(0.2366, lo, 4);
        Assert.Equal(0.7634, hi, 4);
        (lo, hi) = EvalStats.Wilson(0, 10);
        Assert.Equal(0, lo);
        Assert.Equal(0.2775, hi, 4);     // z^2 / (n + z^2)
        (lo, hi) = EvalStats.Wilson(10, 10);
        Assert.Equal(0.7225, lo, 4);
        Assert.Equal(1, hi);
        Assert.Equal((0.0, 1.0), EvalStats.Wilson(0, 0));
    }

    [Fact]
    public void Wilson_is_symmetric_and_narrows_with_more_data()
    {
        for (int c = 0; c <= 40; c++)
        {
            var (lo, hi) = EvalStats.Wilson(c, 40);
            var (mlo, mhi) = EvalStats.Wilson(40 - c, 40);
            Assert.Equal(lo, 1 - mhi, 12);
            Assert.Equal(hi, 1 - mlo, 12);
            Assert.InRange(c / 40.0, lo, hi);
        }
        var small = EvalStats.Wilson(30, 100);
        var large = EvalStats.Wilson(300, 1000);
        Assert.True(large.Hi - large.Lo < small.Hi - small.Lo);
        Assert.Throws<ArgumentOutOfRangeException>(() => EvalStats.Wilson(11, 10));
    }

    [Theory]
    [InlineData(0, 0, 1.0)]
    [InlineData(10, 0, 0.001953125)]        // 2 * 0.5^10
    [InlineData(0, 10, 0.001953125)]
    [InlineData(3, 1, 0.625)]               // 2 * (1 + 4) / 16
    [InlineData(8, 2, 0.109375)]            // 2 * (1 + 10 + 45) / 1024
    [InlineData(5, 5, 1.0)]                 // capped
    [InlineData(1, 0, 1.0)]
    public void McNemar_exact_p_is_the_two_sided_binomial_tail(int bOnly, int aOnly, double expected) =>
        Assert.Equal(expected, EvalStats.McNemarExactP(bOnly, aOnly), 12);

    [Fact]
    public void McNemar_exact_p_agrees_with_summing_binomial_coefficients()
    {
        for (int b = 0; b <= 30; b += 3)
            for (int a = 0; a <= 30; a += 4)
            {
                int n = a + b, m = Math.Min(a, b);
                double tail = Enumerable.Range(0, m + 1).Sum(i => SpecialFunctions.Binomial(n, i)) / Math.Pow(2, n);
                Assert.Equal(n == 0 ? 1 : Math.Min(1, 2 * tail), EvalStats.McNemarExactP(b, a), tolerance: 1e-12);
            }
    }

    [Fact]
    public void McNemar_exact_p_for_large_counts_uses_log_space_and_stays_sane()
    {
        double p = EvalStats.McNemarExactP(560, 480); // n = 1040: 2^-n underflows a double
        double reference = 2 * MathNet.Numerics.Distributions.Binomial.CDF(0.5, 1040, 480);
        Assert.Equal(reference, p, tolerance: 1e-9);
        Assert.InRange(p, 0.01, 0.02);
    }

    [Theory]
    [InlineData(10, 3, 1, 0.3)]
    [InlineData(10, 3, 10, 1.0)]
    [InlineData(10, 0, 5, 0.0)]
    [InlineData(5, 2, 2, 0.7)]     // 1 - C(3,2)/C(5,2)
    [InlineData(4, 4, 1, 1.0)]
    public void PassAtK_known_values(int n, int c, int k, double expected) =>
        Assert.Equal(expected, EvalStats.PassAtK(n, c, k), 12);

    [Fact]
    public void PassAtK_equals_the_binomial_coefficient_formula_and_is_stable_for_large_n()
    {
        for (int n = 1; n <= 30; n++)
            for (int c = 0; c <= n; c++)
                for (int k = 1; k <= n; k++)
                {
                    double direct = 1 - SpecialFunctions.Binomial(n - c, k) / SpecialFunctions.Binomial(n, k);
                    Assert.Equal(direct, EvalStats.PassAtK(n, c, k), 9);
                }
        double big = EvalStats.PassAtK(2000, 7, 100);
        Assert.InRange(big, 0.29, 0.31); // about 1 - (1 - 0.05)^7
        Assert.Throws<ArgumentOutOfRangeException>(() => EvalStats.PassAtK(3, 1, 4));
    }
}
