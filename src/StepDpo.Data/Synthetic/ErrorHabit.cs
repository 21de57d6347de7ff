namespace StepDpo.Data.Synthetic;

/// <summary>
/// A systematic error for the demonstrations of the synthetic world: taking k away ("sells k", "eats k", "loses k")
/// written as an addition (x + k) instead of a subtraction (x - k), with the error carried through the later steps and
/// into the final answer, as a careless solver would. Demonstrations with this habit teach the SFT model to make that wrong
/// step part of the time: a controlled version of the step errors an SFT model picks up from imperfect data, and the
/// kind of error Step-DPO is meant to fix (the right step stays in the model's distribution, so rectification finds it
/// in-distribution). Only demonstrations change; the pool and the test split keep their exact answers.
/// </summary>
public static class ErrorHabit
{
    /// <summary>The solution of <paramref name="p"/> with every taking-away step added instead of subtracted, or null when
    /// the problem has none or the wrong values leave the world (a negative count, an inexact division).</summary>
    public static string? FlawedSolution(SyntheticProblem p)
    {
        var results = new int[p.Plan.Count];
        var steps = new List<string>();
        bool flawed = false;
        for (int i = 0; i < p.Plan.Count; i++)
        {
            var s = p.Plan[i];
            int left = Value(s.Left, results), right = Value(s.Right, results);
            var op = s.Operation;
            if (IsTakingAway(s)) { op = Operation.Add; flawed = true; }
            if (PlanStep.Apply(op, left, right) is not int r || r < 0) return null;
            results[i] = r;
            steps.Add($"{left} {PlanStep.Symbol(op)} {right} = {r}.");
        }
        if (!flawed) return null;
        steps[^1] += $"\nThe answer is \\boxed{{{results[^1]}}}.";
        return string.Join("\n", steps.Select((s, i) => $"Step {i + 1}: {s}"));
    }

    /// <summary>"sells k": the running total minus a number of the question. Giving away groups ("gives g friends s
    /// each") subtracts a computed product instead and keeps its subtraction.</summary>
    static bool IsTakingAway(PlanStep s) => s.Operation == Operation.Subtract && s.Right.IsGiven;

    static int Value(Operand o, int[] results) => o.FromStep is int k ? results[k] : o.Value;
}
