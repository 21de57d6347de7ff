using StepDpo.Stages.Evaluation;

namespace StepDpo.Stages.Tests.Evaluation;

public class MajorityAndGroupTests
{
    // A stand-in grader: numbers equal within 1e-9, written as decimals or simple fractions.
    private static bool SameValue(string x, string y) => Math.Abs(Parse(x) - Parse(y)) < 1e-9;
    private static double Parse(string s) => s.Split('/') is [var n, var d] ? double.Parse(n) / double.Parse(d) : double.Parse(s);

    [Fact]
    public void Majority_groups_equivalent_answers()
    {
        Assert.Equal("0.5", MajorityVote.Pick(["0.5", "3", "1/2", "3", "2/4"], SameValue));
        Assert.True(MajorityVote.IsCorrect(["0.5", "3", "1/2", "3", "2/4"], "1/2", SameValue));
        Assert.False(MajorityVote.IsCorrect(["3", "3", "1/2"], "1/2", SameValue));
    }

    [Fact]
    public void Ties_go_to_the_answer_seen_first_and_missing_answers_do_not_vote()
    {
        Assert.Equal("7", MajorityVote.Pick(["7", "8", "8", "7", null, null, null], SameValue));
        Assert.Null(MajorityVote.Pick([null, null], SameValue));
        Assert.False(MajorityVote.IsCorrect([null], "1", SameValue));
    }

    [Fact]
    public void Majority_accuracy_over_problems()
    {
        var problems = new (IReadOnlyList<string?>, string)[]
        {
            (["1", "1", "2"], "1"), (["2", "2", "1"], "1"), ([null], "5"), (["4"], "4"),
        };
        Assert.Equal(0.5, MajorityVote.Accuracy(problems, SameValue));
    }

    [Fact]
    public void Group_accuracy_skips_items_without_a_group()
    {
        var items = new (string? Level, bool Ok)[] { ("1", true), ("1", false), ("2", true), (null, false), ("", true) };
        var groups = GroupAccuracy.Compute(items, i => i.Level, i => i.Ok);
        Assert.Equal(["1", "2"], groups.Keys);
        Assert.Equal(new GroupStat(2, 1, 0.5), groups["1"]);
        Assert.Equal(new GroupStat(1, 1, 1.0), groups["2"]);
    }
}
