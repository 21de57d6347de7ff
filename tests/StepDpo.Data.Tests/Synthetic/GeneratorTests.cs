using System.Text.RegularExpressions;
using Snapshooter.Xunit;
using StepDpo.Core;
using StepDpo.Data.Synthetic;

namespace StepDpo.Data.Tests.Synthetic;

public class GeneratorTests
{
    private static readonly Regex StepLine = new(@"^Step (\d+): (\d+) ([-+*/]) (\d+) = (\d+)\.$");

    [Fact]
    public void Same_seed_gives_the_same_problems_and_another_seed_different_ones()
    {
        var a = SyntheticWorld.Generate(300, seed: 7);
        var b = SyntheticWorld.Generate(300, seed: 7);
        var c = SyntheticWorld.Generate(300, seed: 8);
        Assert.Equal(a.Select(p => p.Id + p.Question + p.Solution), b.Select(p => p.Id + p.Question + p.Solution));
        Assert.True(a.Select(p => p.Id).Intersect(c.Select(p => p.Id)).Count() < 30);
    }

    [Fact]
    public void First_problems_of_seed_42_are_stable() =>
        Snapshot.Match(SyntheticWorld.Generate(4, seed: 42).Select(p => p.ToProblem()).ToList());

    [Fact]
    public void Train_and_test_are_disjoint_by_plan_not_by_index_or_wording()
    {
        var train = SyntheticWorld.Generate(4000, seed: 1);
        var test = SyntheticWorld.Generate(1000, seed: 1, new SyntheticOptions { Split = SyntheticSplit.Test });
        var testWithTrainSeed = SyntheticWorld.Generate(1000, seed: 2, new SyntheticOptions { Split = SyntheticSplit.Test });
        static string Plan(SyntheticProblem p) => string.Join(";", p.Plan);
        var trainPlans = train.Select(Plan).ToHashSet();
        Assert.DoesNotContain(test.Concat(testWithTrainSeed), p => trainPlans.Contains(Plan(p)));
        Assert.Equal(train.Count, trainPlans.Count); // distinct within a split too
    }

    [Fact]
    public void Solutions_use_the_step_format_and_end_with_the_boxed_answer()
    {
        foreach (var p in SyntheticWorld.Generate(2000, seed: 3))
        {
            var lines = p.Solution.Split('\n');
            Assert.Equal(p.Plan.Count + 1, lines.Length);
            for (int i = 0; i < p.Plan.Count; i++)
            {
                var m = StepLine.Match(lines[i]);
                Assert.True(m.Success, lines[i]);
                Assert.Equal(i + 1, int.Parse(m.Groups[1].Value));
            }
            Assert.Equal($"The answer is \\boxed{{{p.Answer}}}.", lines[^1]);
            Assert.Equal(p.Plan[^1].Result.ToString(), p.Answer);
            Assert.EndsWith($"\nThe answer is \\boxed{{{p.Answer}}}.", p.ReferenceSteps[^1]);
            Assert.Equal(p.Solution, p.ToProblem().Solution);
        }
    }

    [Fact]
    public void Every_given_operand_is_written_in_the_question_and_every_later_operand_is_an_earlier_result()
    {
        foreach (var p in SyntheticWorld.Generate(2000, seed: 4))
        {
            var numbers = Regex.Matches(p.Question, @"\d+").Select(m => int.Parse(m.Value)).ToHashSet();
            for (int i = 0; i < p.Plan.Count; i++)
                foreach (var o in new[] { p.Plan[i].Left, p.Plan[i].Right })
                {
                    if (o.FromStep is int s) { Assert.True(s < i); Assert.Equal(p.Plan[s].Result, o.Value); }
                    else Assert.Contains(o.Value, numbers);
                }
            // The result of every step but the last is used later: no step is idle.
            for (int i = 0; i < p.Plan.Count - 1; i++)
                Assert.Contains(p.Plan.Skip(i + 1), s => s.Left.FromStep == i || s.Right.FromStep == i);
        }
    }

    [Fact]
    public void Knobs_bound_steps_values_and_templates()
    {
        var o = new SyntheticOptions { MinSteps = 3, MaxSteps = 3, MaxValue = 50, MaxFactor = 5, MaxAddend = 9, Templates = ["bakery"] };
        var problems = SyntheticWorld.Generate(500, seed: 5, o);
        Assert.All(problems, p =>
        {
            Assert.Equal(3, p.Plan.Count);
            Assert.Equal("bakery", p.Template);
            Assert.All(p.Plan, s => Assert.InRange(s.Result, 1, 50));
            Assert.All(p.Plan.Where(s => s.Operation is Operation.Multiply or Operation.Divide),
                s => Assert.InRange(s.Right.Value, 2, 5));
        });
        var wide = SyntheticWorld.Generate(2000, seed: 5);
        Assert.Equal([2, 3, 4, 5], wide.Select(p => p.Plan.Count).Distinct().Order());
        Assert.Equal(3, wide.Select(p => p.Template).Distinct().Count());
        Assert.Equal(4, wide.SelectMany(p => p.Plan).Select(s => s.Operation).Distinct().Count());
    }

    [Theory]
    [InlineData(0, 5, "min_steps")]
    [InlineData(4, 3, "max_steps")]
    public void Bad_step_range_names_the_knob(int min, int max, string key)
    {
        var ex = Assert.Throws<StepDpoException>(() => SyntheticWorld.Generate(1, 1, new SyntheticOptions { MinSteps = min, MaxSteps = max }));
        Assert.Contains(key, ex.Message);
    }

    [Fact]
    public void Unknown_template_and_bad_fraction_are_input_errors()
    {
        var ex = Assert.Throws<StepDpoException>(() => SyntheticWorld.Generate(1, 1, new SyntheticOptions { Templates = ["zoo"] }));
        Assert.Contains("unknown template 'zoo'", ex.Message);
        Assert.Throws<StepDpoException>(() => SyntheticWorld.Generate(1, 1, new SyntheticOptions { TestFraction = 1 }));
    }

    [Fact]
    public void Asking_for_more_problems_than_the_knobs_allow_fails_clearly_instead_of_looping()
    {
        var tiny = new SyntheticOptions { MinSteps = 1, MaxSteps = 1, MaxStart = 4, MaxAddend = 2, MaxFactor = 2, MaxValue = 8 };
        var ex = Assert.Throws<StepDpoException>(() => SyntheticWorld.Generate(100, 1, tiny));
        Assert.Contains("distinct train problems", ex.Message);
    }
}
