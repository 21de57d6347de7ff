
namespace StepDpo.Answers.Tests;

public class ExtractionTests
{
    [Theory]
    [InlineData("so $x = \\boxed{\\frac{1}{2}}$.", "\\frac{1}{2}")]
    [InlineData("first \\boxed{1} then \\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}.", "\\left( 3, \\frac{\\pi}{2} \\right)")]
    [InlineData("nested \\boxed{\\{1, \\{2\\}\\}}", "\\{1, \\{2\\}\\}")]
    [InlineData("\\fbox{42}", "42")]
    [InlineData("The answer is \\boxed 5$.", "5")]
    [InlineData("Final Answer: The final answer is $\\frac{3}{4}$. I hope it is correct.", "\\frac{3}{4}")]
    [InlineData("Thus the final answer is $12$.", "12")]
    [InlineData("Step 3: so 5+4=9.\nThe answer is: 9", "9")]
    [InlineData("The answer is 1,000.", "1,000")]
    [InlineData("The answer is $\\$1,000$.", "\\$1,000")]
    [InlineData("The answer is 7. Filler follows for pages.", "7")]
    [InlineData("The answer is 3.5 liters. Done.", "3.5 liters")]
    [InlineData("she makes 9 * 2 = $18\n#### 18", "18")]
    [InlineData("he has 3 apples and -1,200.5 dollars", "-1200.5")]
    [InlineData("so the probability is 3/4", "3/4")]
    [InlineData("The answer is: x-2ки", "x-2")]
    public void Finds_the_final_answer(string response, string expected) =>
        Assert.Equal(expected, Grading.ExtractAnswer(response));

    [Fact]
    public void Nothing_to_find_is_null()
    {
        Assert.Null(Grading.ExtractAnswer("no digits here"));
        Assert.Null(Grading.ExtractAnswer(""));
        Assert.Null(Grading.ExtractAnswer("only an open box \\boxed{12", ExtractionOrder.BoxedOnly));
    }

    /// <summary>A last box that never closes is an answer cut off while being written (a response stopped at
    /// max_new_tokens): there is no final answer, neither the box's first characters nor a number or an earlier box.</summary>
    [Theory]
    [InlineData("The answer is \\boxed{5")]
    [InlineData("So \\boxed{5")]
    [InlineData("good \\boxed{3} then broken \\boxed{4")]
    [InlineData("#### 7 but \\fbox{\\frac{1}{2}")]
    public void An_unclosed_last_box_is_no_answer(string response)
    {
        Assert.Null(Grading.ExtractAnswer(response));
        Assert.False(Grading.Grade(response, "5").Correct);
        Assert.False(Grading.Grade(response, "3").Correct);
    }

    [Fact]
    public void Only_the_last_box_decides_and_only_where_boxes_are_read()
    {
        Assert.Equal("4", Grading.ExtractAnswer("broken \\boxed{3 then \\boxed{4}"));
        Assert.Equal("18", Grading.ExtractAnswer("#### 18\nthen \\boxed{2", ExtractionOrder.Gsm8k));
        Assert.Equal("9", Grading.ExtractAnswer("\\boxed{5 The answer is: 9", new ExtractionOrder([ExtractionRule.TheAnswerIs])));
    }

    [Fact]
    public void Order_decides_between_rules()
    {
        const string response = "#### 18\nbut then \\boxed{20}";
        Assert.Equal("20", Grading.ExtractAnswer(response, ExtractionOrder.Default));
        Assert.Equal("18", Grading.ExtractAnswer(response, ExtractionOrder.Gsm8k));
        Assert.Equal("18", Grading.ExtractAnswer(response, ExtractionOrder.Parse("gsm8k-hashes, boxed")));
        Assert.Same(ExtractionOrder.Gsm8k, ExtractionOrder.ForBenchmark("qwen25:svamp"));
        Assert.Throws<FormatException>(() => ExtractionOrder.Parse("boxed, telepathy"));
    }

    [Fact]
    public void Grade_combines_extraction_and_equality()
    {
        var r = Grading.Grade("We get $\\boxed{\\dfrac{1}{2}}$.", "0.5");
        Assert.Equal(new GradeResult("\\dfrac{1}{2}", true), r);
        Assert.False(Grading.Grade("no answer", "0.5").Correct);
        Assert.False(Grading.Grade("\\boxed{2\\sqrt2}", "\\sqrt8", "hendrycks").Correct);
        Assert.True(Grading.Grade("\\boxed{2\\sqrt2}", "\\sqrt8").Correct);
        Assert.Throws<ArgumentException>(() => Grading.AnswersEqual("1", "1", "sympy"));
    }
}
