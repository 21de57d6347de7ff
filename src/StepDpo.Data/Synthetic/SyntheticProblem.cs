namespace StepDpo.Data.Synthetic;

/// <summary>A problem in the generic layout every loader and stage uses; the JSONL fields are
/// id, question, answer, solution.</summary>
public sealed record ProblemRecord(string Id, string Question, string Answer, string Solution);

/// <summary>A generated word problem with its exact reference solution and the arithmetic plan behind it.
/// <see cref="ReferenceSteps"/> hold the step texts WITHOUT their "Step k: " labels ("4 * 7 = 28.");
/// the answer line is part of the last step ("51 - 15 = 36.\nThe answer is \boxed{36}."), because a
/// splitter that cuts at "Step k:" labels leaves any text after the last label in the last step.</summary>
public sealed record SyntheticProblem(
    string Id,
    string Template,
    string Question,
    string Answer,
    IReadOnlyList<string> ReferenceSteps,
    IReadOnlyList<PlanStep> Plan)
{
    /// <summary>Numbers written in the question (the operands a step may use without computing them).</summary>
    public IEnumerable<int> GivenNumbers =>
        Plan.SelectMany(s => new[] { s.Left, s.Right }).Where(o => o.IsGiven).Select(o => o.Value).Distinct();

    /// <summary>The full reference solution: "Step 1: ...\nStep 2: ...\nThe answer is \boxed{N}."</summary>
    public string Solution => string.Join("\n", ReferenceSteps.Select((s, i) => $"Step {i + 1}: {s}"));

    public ProblemRecord ToProblem() => new(Id, Question, Answer, Solution);
}
