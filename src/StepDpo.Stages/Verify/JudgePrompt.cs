using System.Text;
using System.Text.RegularExpressions;

namespace StepDpo.Stages.Verify;

/// <summary>The judge prompt, with the structure the Step-DPO reference pipeline used for GPT-4o: the problem,
/// a correct solution, the wrong answer as numbered steps, then the instructions. The output format
/// ("Final Decision:\nStep 1: correct; Step 2: neutral; ...") is the contract <see cref="JudgeVerdictParser"/> reads.</summary>
public static partial class JudgePrompt
{
    public const string DecisionFormat = "Final Decision:\nStep 1: correct; Step 2: neutral; ...";

    /// <param name="steps">the wrong answer's steps in order; a leading "Step k:" label on a step is dropped, since
    /// the steps are numbered here</param>
    public static string Render(string problem, string correctSolution, IReadOnlyList<string> steps)
    {
        ArgumentOutOfRangeException.ThrowIfZero(steps.Count);
        var answer = new StringBuilder();
        for (var i = 0; i < steps.Count; i++)
        {
            if (i > 0) answer.Append('\n');
            answer.Append("Step ").Append(i + 1).Append(": ").Append(CollapseBlankLines(LeadingLabel().Replace(steps[i].Trim(), "")));
        }
        // Blank lines inside a solution read like section breaks to the judge; the reference removed them too.
        return $"""
            ### Problem:
            {problem.Trim()}

            ### Correct solution:
            {CollapseBlankLines(correctSolution.Trim())}

            ### Incorrect answer:
            {answer}

            ---

            Above are a math problem, a correct solution of it, and an answer that ends with a wrong result, written as numbered reasoning steps. Judge every reasoning step of that answer.

            Requirements:
            1. First analyse the steps one by one (in at most 200 words), then give your decision for each step, one of "correct", "neutral" or "incorrect", exactly in the format "{DecisionFormat}";
            2. Stop at the first incorrect step.
            """;
    }

    static string CollapseBlankLines(string s) => BlankLines().Replace(s.Replace("\r\n", "\n"), "\n");

    [GeneratedRegex(@"\n[ \t]*\n+")]
    private static partial Regex BlankLines();

    [GeneratedRegex(@"^Step\s*\d+\s*:\s*", RegexOptions.IgnoreCase)]
    private static partial Regex LeadingLabel();
}
