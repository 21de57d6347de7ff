using StepDpo.Data.Synthetic;

namespace StepDpo.Data.Tests.Synthetic;

public class ErrorHabitTests
{
    static SyntheticProblem Hand(string answer, PlanStep[] plan)
    {
        var steps = plan.Select(p => p.Render()).ToList();
        steps[^1] += $"\nThe answer is \\boxed{{{answer}}}.";
        return new SyntheticProblem("hand", "shop", "(hand-written)", answer, steps, plan);
    }

    [Fact]
    public void Taking_away_is_added_and_the_error_carries_to_the_answer()
    {
        // "Tom has 9 apples. He sells 4. He then has 2 times as many."
        var p = Hand("10", [
            new(Operation.Subtract, Operand.Given(9), Operand.Given(4), 5),
            new(Operation.Multiply, Operand.ResultOf(0, 5), Operand.Given(2), 10),
        ]);
        Assert.Equal("Step 1: 9 + 4 = 13.\nStep 2: 13 * 2 = 26.\nThe answer is \\boxed{26}.", ErrorHabit.FlawedSolution(p));
        // The habit's step is exactly the one the rule rejects.
        Assert.Equal(1, SyntheticWorld.FirstWrongStep(p, ["9 + 4 = 13.", "13 * 2 = 26.\nThe answer is \\boxed{26}."]));
    }

    [Fact]
    public void Giving_away_groups_keeps_its_subtraction()
    {
        // "Tom has 9 apples. He gives 2 friends 3 each." subtracts a computed product: not the habit's step.
        var p = Hand("3", [
            new(Operation.Multiply, Operand.Given(2), Operand.Given(3), 6),
            new(Operation.Subtract, Operand.Given(9), Operand.ResultOf(0, 6), 3),
        ]);
        Assert.Null(ErrorHabit.FlawedSolution(p));
    }

    [Fact]
    public void A_habit_that_leaves_the_world_is_not_applied()
    {
        // 9 - 3 = 6, 6 / 2 = 3; added instead: 9 + 3 = 12, 12 / 2 = 6 is fine, but 9 + 2 = 11 and 11 / 2 is not exact.
        var p = Hand("3", [
            new(Operation.Subtract, Operand.Given(9), Operand.Given(2), 7),
            new(Operation.Divide, Operand.ResultOf(0, 7), Operand.Given(7), 1),
        ]);
        Assert.Null(ErrorHabit.FlawedSolution(p));
    }

    [Fact]
    public void Generated_problems_that_take_away_get_the_habit_and_the_rule_catches_it()
    {
        var problems = SyntheticWorld.Generate(300, 7, new SyntheticOptions { MinSteps = 2, MaxSteps = 3, MaxValue = 12, MaxStart = 9, MaxAddend = 6, MaxFactor = 4 });
        var flawed = problems.Select(p => (p, f: ErrorHabit.FlawedSolution(p))).Where(x => x.f is not null).ToList();
        Assert.InRange(flawed.Count, 30, 270);
        foreach (var (p, f) in flawed)
        {
            Assert.NotEqual(p.Solution, f);
            var steps = Steps.Split(f!, StepStyle.Labels).Steps.Select(s => s.Content).ToList();
            int? k = SyntheticWorld.FirstWrongStep(p, steps);
            Assert.NotNull(k);
            Assert.Contains(" + ", steps[k!.Value - 1]);
        }
    }
}
