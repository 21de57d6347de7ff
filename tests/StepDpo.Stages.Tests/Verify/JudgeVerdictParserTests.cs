using StepDpo.Stages.Verify;
using static StepDpo.Stages.Verify.StepLabel;

namespace StepDpo.Stages.Tests.Verify;

public class JudgeVerdictParserTests
{
    [Theory]
    [InlineData("Analysis...\n\nFinal Decision:\nStep 1: correct; Step 2: neutral; Step 3: incorrect", new[] { Correct, Neutral, Incorrect })]
    [InlineData("**Final Decision:**\n**Step 1**: Correct; **Step 2**: *Incorrect*", new[] { Correct, Incorrect })]
    [InlineData("### Final decision\nStep 1 : CORRECT\nStep 2 :   correct\nStep 3 : Incorrect", new[] { Correct, Correct, Incorrect })]
    [InlineData("final decision: step1: correct, step 2 - neutral, step 3 (incorrect)", new[] { Correct, Neutral, Incorrect })]
    [InlineData("Step 1: incorrect (in the analysis)\nFinal Decision:\nStep 1: correct; Step 2: incorrect.\nThe error in step 2 is a sign.", new[] { Correct, Incorrect })]
    [InlineData("Final Decision: Step 1: correct; Step 1: correct; Step 2: correct", new[] { Correct, Correct })]
    [InlineData("Final Decision:\nStep 1 is correct; Step 2 is incorrect", new[] { Correct, Incorrect })]
    public void Reads_the_decision_in_its_many_spellings(string answer, StepLabel[] expected)
    {
        var verdict = JudgeVerdictParser.Parse(answer);
        Assert.True(verdict.IsParsed, verdict.Failure);
        Assert.Equal(expected, verdict.Labels);
    }

    [Theory]
    [InlineData("Step 1: correct; Step 2: incorrect", "no 'Final Decision'")]
    [InlineData("Final Decision: I cannot tell.", "labels no step")]
    [InlineData("Final Decision: Step 1: correct; Step 3: incorrect", "gap")]
    [InlineData("Final Decision: Step 2: incorrect", "gap")]
    [InlineData("Final Decision: Step 1: correct; Step 1: incorrect", "both")]
    [InlineData("Final Decision: Step 1: correct; Step 2: wrong", "'Step 2: wrong' is not one of")]
    [InlineData("Final Decision: Step 1: correct; Step 2: partially correct", "not one of")]
    public void Never_guesses_an_unreadable_decision(string answer, string why)
    {
        var verdict = JudgeVerdictParser.Parse(answer);
        Assert.False(verdict.IsParsed);
        Assert.Contains(why, verdict.Failure);
    }

    [Fact]
    public void The_first_error_is_the_first_neutral_or_incorrect_step_as_in_the_reference()
    {
        var verdict = JudgeVerdictParser.Parse("Final Decision: Step 1: correct; Step 2: neutral; Step 3: incorrect");
        Assert.Equal(2, verdict.FirstError());
        Assert.Equal(3, verdict.FirstError(neutralIsError: false));
        Assert.Null(JudgeVerdictParser.Parse("Final Decision: Step 1: correct; Step 2: correct").FirstError());
    }
}
