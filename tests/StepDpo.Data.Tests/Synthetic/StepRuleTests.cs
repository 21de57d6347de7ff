using StepDpo.Data.Synthetic;

namespace StepDpo.Data.Tests.Synthetic;

public class StepRuleTests
{
    // "Tom has 23 apples. He buys 4 bags of 7. He sells 15. How many apples now?"
    private static readonly SyntheticProblem Shop = Hand("36", [
        new(Operation.Multiply, Operand.Given(4), Operand.Given(7), 28),
        new(Operation.Add, Operand.Given(23), Operand.ResultOf(0, 28), 51),
        new(Operation.Subtract, Operand.ResultOf(1, 51), Operand.Given(15), 36),
    ]);

    // "Ana has 20 cards. She gives 3 friends 4 each. She gets 2 packs of 5. She keeps 1 of 3 equal piles."
    // Two independent products: several valid orders.
    private static readonly SyntheticProblem TwoProducts = Hand("6", [
        new(Operation.Multiply, Operand.Given(3), Operand.Given(4), 12),
        new(Operation.Subtract, Operand.Given(20), Operand.ResultOf(0, 12), 8),
        new(Operation.Multiply, Operand.Given(2), Operand.Given(5), 10),
        new(Operation.Add, Operand.ResultOf(1, 8), Operand.ResultOf(2, 10), 18),
        new(Operation.Divide, Operand.ResultOf(3, 18), Operand.Given(3), 6),
    ]);

    private static SyntheticProblem Hand(string answer, PlanStep[] plan)
    {
        var steps = plan.Select(p => p.Render()).ToList();
        steps[^1] += $"\nThe answer is \\boxed{{{answer}}}.";
        return new SyntheticProblem("hand", "shop", "(hand-written)", answer, steps, plan);
    }

    private static int? FirstWrong(SyntheticProblem p, params string[] steps) => SyntheticWorld.FirstWrongStep(p, steps);

    [Fact]
    public void Reference_solution_is_right_with_or_without_labels()
    {
        Assert.Null(SyntheticWorld.FirstWrongStep(Shop, Shop.ReferenceSteps));
        Assert.Null(SyntheticWorld.FirstWrongStep(TwoProducts, TwoProducts.ReferenceSteps));
        Assert.Null(FirstWrong(Shop, "Step 1: 4 * 7 = 28.", " Step 2:  23 + 28 = 51\n", "Step 3: 51 - 15 = 36.\nThe answer is \\boxed{36}."));
    }

    [Fact]
    public void Other_orders_that_respect_dependencies_and_swapped_commutative_operands_are_right()
    {
        Assert.Null(FirstWrong(TwoProducts, "2 * 5 = 10.", "4 * 3 = 12.", "20 - 12 = 8.", "10 + 8 = 18.", "18 / 3 = 6.\nThe answer is \\boxed{6}."));
        Assert.Null(FirstWrong(TwoProducts, "3 * 4 = 12.", "2 * 5 = 10.", "20 - 12 = 8.", "8 + 10 = 18.", "18 / 3 = 6.", "The answer is \\boxed{6}."));
        Assert.Null(FirstWrong(Shop, "7 * 4 = 28.", "28 + 23 = 51."));   // right so far, just not finished
    }

    [Theory]
    [InlineData("4 * 7 = 29.", 1)]                      // off-by-one arithmetic
    [InlineData("4 * 7 = 27.", 1)]
    [InlineData("4 + 7 = 11.", 1)]                      // wrong operation, right arithmetic
    [InlineData("23 + 28 = 51.", 1)]                    // skipped step: 28 is not known yet
    [InlineData("23 + 4 = 27.", 1)]                     // operation the solution does not need
    [InlineData("23 + 4 * 7 = 51.", 1)]                 // two operations in one step
    [InlineData("4 * 7 = 28 apples.", 1)]               // extra words
    [InlineData("four times seven is 28", 1)]           // garbled
    [InlineData("", 1)]
    [InlineData("4 * 7 = 28.\nThe answer is \\boxed{28}.", 1)] // early final answer
    public void A_bad_first_step_is_step_1(string step, int expected) =>
        Assert.Equal(expected, FirstWrong(Shop, step, "23 + 28 = 51.", "51 - 15 = 36.\nThe answer is \\boxed{36}."));

    [Theory]
    [InlineData("23 + 27 = 50.")]   // wrong operand (a number from nowhere)
    [InlineData("23 + 15 = 38.")]   // wrong operand (a question number the step does not use)
    [InlineData("23 * 28 = 644.")]  // wrong operation
    [InlineData("23 + 28 = 52.")]   // off-by-one
    [InlineData("4 * 7 = 28.")]     // repeated step
    [InlineData("Step 2: 23 + 2 8 = 51.")] // garbled number
    public void A_bad_second_step_is_step_2(string step) =>
        Assert.Equal(2, FirstWrong(Shop, "4 * 7 = 28.", step, "51 - 15 = 36.\nThe answer is \\boxed{36}."));

    [Fact]
    public void Order_matters_for_subtraction_and_division()
    {
        Assert.Equal(3, FirstWrong(TwoProducts, "3 * 4 = 12.", "2 * 5 = 10.", "12 - 20 = -8."));
        Assert.Equal(5, FirstWrong(TwoProducts, "3 * 4 = 12.", "20 - 12 = 8.", "2 * 5 = 10.", "8 + 10 = 18.", "3 / 18 = 0."));
    }

    [Fact]
    public void A_wrong_or_premature_final_answer_is_caught_in_its_step()
    {
        Assert.Equal(3, FirstWrong(Shop, "4 * 7 = 28.", "23 + 28 = 51.", "51 - 15 = 36.\nThe answer is \\boxed{37}."));
        Assert.Equal(2, FirstWrong(Shop, "4 * 7 = 28.", "23 + 28 = 51.\nThe answer is \\boxed{51}."));
        Assert.Equal(3, FirstWrong(Shop, "4 * 7 = 28.", "23 + 28 = 51.", "The answer is \\boxed{36}."));
        Assert.Equal(4, FirstWrong(Shop, "4 * 7 = 28.", "23 + 28 = 51.", "51 - 15 = 36.", "36 - 15 = 21."));
    }

    [Fact]
    public void StepIsCorrect_uses_only_what_earlier_correct_steps_computed()
    {
        Assert.True(SyntheticWorld.StepIsCorrect(Shop, ["4 * 7 = 28."], "23 + 28 = 51."));
        Assert.False(SyntheticWorld.StepIsCorrect(Shop, ["4 * 7 = 29."], "23 + 29 = 52."));
        Assert.False(SyntheticWorld.StepIsCorrect(Shop, ["4 * 7 = 29."], "23 + 28 = 51."));
        Assert.True(SyntheticWorld.StepIsCorrect(Shop, [], "Step 1: 7 * 4 = 28."));
        Assert.False(SyntheticWorld.StepIsCorrect(Shop, ["4 * 7 = 28.", "23 + 28 = 51."], "51 - 15 = 35."));
    }

    [Fact]
    public void Mutated_reference_solutions_are_caught_at_the_mutated_step()
    {
        var rng = new Random(11);
        foreach (var p in SyntheticWorld.Generate(600, seed: 12))
        {
            int k = rng.Next(p.Plan.Count);
            var s = p.Plan[k];
            // Off-by-one result at step k.
            var offByOne = p.ReferenceSteps.ToArray();
            offByOne[k] = offByOne[k].Replace($"= {s.Result}.", $"= {s.Result + (rng.Next(2) * 2 - 1)}.");
            Assert.Equal(k + 1, SyntheticWorld.FirstWrongStep(p, offByOne));

            // Skipped step k: the first later step that needs its result (or the answer step) is wrong.
            if (k == p.Plan.Count - 1) continue;
            var skipped = p.ReferenceSteps.Where((_, i) => i != k).ToArray();
            int needer = Enumerable.Range(k + 1, p.Plan.Count - k - 1)
                .First(j => p.Plan[j].Left.FromStep == k || p.Plan[j].Right.FromStep == k || j == p.Plan.Count - 1);
            Assert.Equal(needer, SyntheticWorld.FirstWrongStep(p, skipped)); // index shifts down by one, 1-based adds one
        }
    }
}
