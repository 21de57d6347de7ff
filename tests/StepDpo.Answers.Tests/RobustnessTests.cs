using System.Diagnostics;

namespace StepDpo.Answers.Tests;

/// <summary>Hostile input: the checker must answer (false when undecidable) quickly and never throw.</summary>
public class RobustnessTests
{
    // Hanging inputs (exponential backtracking, unbounded evaluation) take minutes; the checks here take milliseconds,
    // so a generous limit tells the two apart on a busy machine too.
    private static void Fast(Action action)
    {
        var sw = Stopwatch.StartNew();
        action();
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(20), $"took {sw.Elapsed}");
    }

    [Fact]
    public void Tower_of_powers_is_undecidable_not_hanging() => Fast(() =>
    {
        Assert.False(Grading.AnswersEqual("10^{10^{10^{10}}}", "10^{10^{10^{10}}}+1"));
        Assert.False(Grading.AnswersEqual("10^{10^{10}}", "1"));
        Assert.True(Grading.AnswersEqual("10^{10^{10^{10}}}", "10^{10^{10^{10}}}")); // identical text is identical
    });

    [Fact]
    public void Deep_nesting_is_undecidable() => Fast(() =>
    {
        var deep = new string('{', 3000) + "1" + new string('}', 3000);
        Assert.False(Grading.AnswersEqual(deep, "2"));
        Assert.False(Grading.AnswersEqual("\\frac{" + deep + "}{2}", "1"));
        var parens = new string('(', 3000) + "1" + new string(')', 3000);
        Assert.False(Grading.AnswersEqual(parens, "2"));
        Assert.NotNull(Grading.ExtractAnswer("\\boxed{" + deep + "}"));
    });

    [Fact]
    public void Huge_responses_are_linear() => Fast(() =>
    {
        var big = string.Concat(Enumerable.Repeat("and {so} \\boxed{ on 12 ", 10_000)) + " The answer is 7";
        Assert.True(big.Length > 200_000);
        Assert.Equal("7", Grading.ExtractAnswer(big, new ExtractionOrder([ExtractionRule.TheAnswerIs])));
        Assert.Null(Grading.ExtractAnswer(big)); // its last box never closes: cut off, no answer
        Assert.Equal("9", Grading.ExtractAnswer(big + "} so \\boxed{9}"));
        Assert.False(Grading.Grade(big, "8").Correct);
        Assert.False(Grading.AnswersEqual(big, big + "1"));
    });

    [Theory]
    [InlineData("\\frac{1}{")]
    [InlineData("\\sqrt[")]
    [InlineData("((1,2)")]
    [InlineData("\\begin{pmatrix} 1 \\\\")]
    [InlineData("}{")]
    [InlineData("\\")]
    [InlineData("1/0")]
    [InlineData("0^{-1}")]
    [InlineData("3000!")]
    [InlineData("\\binom{10^{30}}{10^{29}}")]
    [InlineData("\\binom{10^{300}}{4999}")]
    [InlineData("\\sqrt[64]{10^{4000}+1}")]
    [InlineData("(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30)")]
    [InlineData("x^{x^{x^{x^{x}}}}")]
    [InlineData("\\log_1 5")]
    [InlineData("2^{-10^{9}}")]
    [InlineData("1e99999999")]
    public void Malformed_or_extreme_never_throws(string weird) => Fast(() =>
    {
        Grading.AnswersEqual(weird, "1");
        Grading.AnswersEqual("1", weird);
        Grading.AnswersEqual(weird, weird + " ");
        Grading.AnswersEqual(weird, weird, "hendrycks");
        Grading.Grade(weird, weird);
    });

    [Fact]
    public void Thread_safe_and_deterministic()
    {
        var pairs = new[] { ("x^2+33x-33", "33x+x^2-33"), ("2\\sqrt2", "\\sqrt8"), ("1, -2", "-2, 1"), ("0.25", "25") };
        var expected = pairs.Select(p => Grading.AnswersEqual(p.Item1, p.Item2)).ToArray();
        Parallel.For(0, 400, i =>
        {
            var (a, b) = pairs[i % pairs.Length];
            Assert.Equal(expected[i % pairs.Length], Grading.AnswersEqual(a, b));
        });
    }
}
