using System.Globalization;
using System.Text.RegularExpressions;

namespace StepDpo.Data.Synthetic;

/// <summary>
/// The `rule` step checker of the synthetic world. A step is correct when ALL of these hold:
///  1. It parses: an optional "Step k:" label, then one binary operation "a op b = c" (op one of + - * /,
///     non-negative integer operands, a trailing period optional), and/or the answer line
///     "The answer is \boxed{N}." — nothing else. One operation per step is the project's step format;
///     anything else (garbled text, two operations, words) cannot be checked and counts as wrong.
///  2. Its arithmetic is right: a op b really equals c (division must be exact).
///  3. It makes progress: the operation is one of the plan's operations that has not been computed yet
///     (+ and * match in either operand order), and each operand is available: a number written in the
///     question where the plan uses a question number, or the result of a plan step the earlier steps
///     already computed where the plan uses that result. So any order that respects the dependencies
///     (a topological order of the plan) is accepted, while a wrong operation, a wrong operand, an
///     operand that skips a step, a repeated step or a quantity the solution does not need is caught.
///  4. An answer line is right only when, counting this step, every plan operation has been computed
///     and the boxed number is the problem's answer (no early or wrong final answers).
/// Earlier steps are replayed with the same rule; an earlier step that fails it makes nothing available.
/// A solution that stops early with all its steps right has no wrong step (its answer is checked apart).
/// </summary>
internal static partial class StepRule
{
    [GeneratedRegex(
        @"^\s*(?:Step\s*\d+\s*:)?\s*(?:(?<a>\d{1,9})\s*(?<op>[-+*/])\s*(?<b>\d{1,9})\s*=\s*(?<c>-?\d{1,9})\s*\.?)?" +
        @"\s*(?:The answer is:?\s*\\boxed\{\s*(?<ans>-?\d{1,9})\s*\}\s*\.?)?\s*$",
        RegexOptions.CultureInvariant | RegexOptions.ExplicitCapture)]
    private static partial Regex StepPattern();

    internal readonly record struct ParsedStep(Operation? Op, int A, int B, int C, int? Answer);

    internal static ParsedStep? Parse(string step)
    {
        var m = StepPattern().Match(step);
        if (!m.Success || (!m.Groups["op"].Success && !m.Groups["ans"].Success)) return null;
        int? answer = m.Groups["ans"].Success ? Int(m.Groups["ans"].Value) : null;
        if (!m.Groups["op"].Success) return new ParsedStep(null, 0, 0, 0, answer);
        var op = m.Groups["op"].Value switch
        {
            "+" => Operation.Add,
            "-" => Operation.Subtract,
            "*" => Operation.Multiply,
            _ => Operation.Divide,
        };
        return new ParsedStep(op, Int(m.Groups["a"].Value), Int(m.Groups["b"].Value), Int(m.Groups["c"].Value), answer);
    }

    private static int Int(string s) => int.Parse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);

    /// <summary>Tracks which plan operations the steps so far have computed.</summary>
    internal sealed class State(SyntheticProblem problem)
    {
        private readonly bool[] done = new bool[problem.Plan.Count];

        /// <summary>Checks the step against the rule and, when it is correct, records its progress.</summary>
        public bool Accept(string step)
        {
            if (Parse(step) is not ParsedStep parsed) return false;
            int? matched = null;
            if (parsed.Op is Operation op)
            {
                if (PlanStep.Apply(op, parsed.A, parsed.B) != parsed.C) return false;
                matched = FindOpenPlanStep(op, parsed.A, parsed.B);
                if (matched is null) return false;
            }
            if (parsed.Answer is int answer)
            {
                bool allDone = done.Select((d, i) => d || i == matched).All(d => d);
                if (!allDone || answer.ToString(CultureInfo.InvariantCulture) != problem.Answer) return false;
            }
            if (matched is int i) done[i] = true;
            return true;
        }

        private int? FindOpenPlanStep(Operation op, int a, int b)
        {
            for (int i = 0; i < problem.Plan.Count; i++)
            {
                var p = problem.Plan[i];
                if (done[i] || p.Operation != op) continue;
                if (Available(p.Left, a) && Available(p.Right, b)) return i;
                if (PlanStep.IsCommutative(op) && Available(p.Left, b) && Available(p.Right, a)) return i;
            }
            return null;
        }

        private bool Available(Operand planned, int written) =>
            planned.Value == written && (planned.FromStep is not int s || done[s]);
    }
}
