
namespace StepDpo.Answers.Tests;

/// <summary>The classic checker must reproduce the original's verdicts, quirks included.</summary>
public class HendrycksTests
{
    [Theory]
    [InlineData("0.5", "\\frac{1}{2}", true)]
    [InlineData("1/2", "\\frac{1}{2}", true)]
    [InlineData("\\frac12", "\\frac{1}{2}", true)]
    [InlineData("\\dfrac{1}{2}", "\\frac{1}{2}", true)]
    [InlineData("x=5", "5", true)]
    [InlineData("xyz=5", "5", false)]                 // only left sides of at most two characters go
    [InlineData("\\sqrt3", "\\sqrt{3}", true)]
    [InlineData("5\\text{ cm}", "5", true)]
    [InlineData("5\\text{ cm} + 3\\text{ m}", "5", false)] // two "\text{ " make the original assert fail: raw equality
    [InlineData("10\\%", "10", true)]
    [InlineData("90^\\circ", "90", true)]
    [InlineData(".5", "0.5", true)]
    [InlineData("2\\sqrt{2}", "\\sqrt{8}", false)]
    [InlineData("1,-2", "-2,1", false)]
    [InlineData("0.50", "\\frac{1}{2}", false)]
    [InlineData("\\left( 3, \\frac{\\pi}{2} \\right)", "(3,\\frac{\\pi}{2})", true)]
    [InlineData("03/4", "\\frac{3}{4}", false)]         // int('03') round-trips to '3': no rewrite
    [InlineData("\\sqrt", "\\sqrt", true)]                // IndexError in the original, then raw equality
    public void Matches_the_original(string a, string b, bool expected) =>
        Assert.Equal(expected, Grading.AnswersEqual(a, b, "hendrycks"));
}
