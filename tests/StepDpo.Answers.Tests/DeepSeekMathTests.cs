
namespace StepDpo.Answers.Tests;

/// <summary>The paper's comparison (deepseekmath grader), rule by rule, and where it differs from ours.</summary>
public class DeepSeekMathTests
{
    [Theory]
    [InlineData("42", "42", true)]
    [InlineData("1,000", "1000", true)]                               // thousands commas
    [InlineData("1.0005", "1", true)]                                 // within 1e-3
    [InlineData("1.002", "1", false)]
    [InlineData("50", "0.5", true)]                                   // percentage variant: gold x 100
    [InlineData("0.005", "0.5", true)]                                // gold / 100
    [InlineData("25\\%", "0.25", true)]
    [InlineData("2", "3", false)]
    [InlineData("0.5", "\\frac{1}{2}", true)]                         // MATH normalisation
    [InlineData("\\dfrac{3}{4}", "\\frac34", true)]
    [InlineData("(1, 2)", "(1,2)", true)]                             // element-wise tuples
    [InlineData("[1,2)", "[1,2]", true)]                              // the paper's quirk: bracket kinds are not compared
    [InlineData("(1,2,3)", "(1,2)", false)]
    [InlineData("\\begin{pmatrix} 1 \\\\ 2.0 \\end{pmatrix}", "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", true)]
    [InlineData("(1,2) \\cup (3,4)", "(3,4) \\cup (1,2)", true)]
    [InlineData("x = 5", "5", true)]                                  // a short left side is a name
    [InlineData("y = 2x + 1", "y - 2x = 1", true)]                    // equations up to sign
    [InlineData("3.1416", "\\pi", true)]                              // constants within 1e-3
    [InlineData("3.14", "\\pi", false)]
    [InlineData("2\\sqrt{2}", "\\sqrt{8}", true)]
    [InlineData("x^2+2x+1", "(x+1)^2", true)]
    [InlineData("", "5", false)]
    public void Follows_the_papers_rules(string prediction, string gold, bool equal) =>
        Assert.Equal(equal, Grading.AnswersEqual(prediction, gold, "deepseekmath"));

    [Theory]
    [InlineData("50", "0.5")]          // the paper accepts percentage variants; we do not (25% = 25, never 0.25)
    [InlineData("1.0005", "1")]        // the paper's 1e-3 tolerance; a terminating gold decimal must match for us
    [InlineData("[1,2)", "[1,2]")]     // the paper ignores bracket kinds
    public void Where_the_paper_accepts_and_we_do_not(string prediction, string gold)
    {
        Assert.True(Grading.AnswersEqual(prediction, gold, "deepseekmath"));
        Assert.False(Grading.AnswersEqual(prediction, gold, "stepdpo"));
    }

    [Fact]
    public void Long_and_hostile_inputs_end_within_the_budget()
    {
        string deep = new string('(', 5000) + "1" + new string(')', 5000);
        Assert.False(Grading.AnswersEqual(deep, "2", "deepseekmath"));
        Assert.False(Grading.AnswersEqual(string.Join("\\cup", Enumerable.Repeat("(1,2)", 300)), "(3,4)", "deepseekmath"));
    }
}
