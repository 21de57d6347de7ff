using StepDpo.Answers.Normalization;
using StepDpo.Answers.Structures;

namespace StepDpo.Answers;

/// <summary>Names the shape of an answer as the stepdpo grader sees it: integer, decimal, fraction,
/// expression (numeric with radicals/pi), symbolic (with variables), tuple, interval, set/list,
/// matrix, equation, base-n, choice, text, infinity. Used by data statistics and reports.</summary>
public static class AnswerKinds
{
    public static string Classify(string answer)
    {
        try
        {
            var budget = new WorkBudget(WorkBudget.DefaultLimit);
            var value = StructureParser.Parse(AnswerNormalizer.Normalize(answer), budget);
            return value switch
            {
                ScalarValue s => ScalarKind(s),
                TupleValue t => t.Open != t.Close && (t.Open, t.Close) is not ('(', ')') and not ('[', ']') ? "interval" : "tuple",
                UnionValue => "interval",
                SetValue => "set/list",
                MatrixValue => "matrix",
                EquationValue => "equation",
                BaseNumberValue => "base-n",
                ChoiceValue => "choice",
                _ => "text",
            };
        }
        catch (Exception e) when (e is not OutOfMemoryException) { return "text"; }
    }

    private static string ScalarKind(ScalarValue s)
    {
        var vars = new HashSet<string>();
        Expressions.Evaluator.CollectVariables(s.Expr, vars);
        if (vars.Count > 0) return "symbolic";
        if (Expressions.Evaluator.ContainsInfinity(s.Expr)) return "infinity";
        var t = s.Text.Replace(" ", "");
        if (t.TrimStart('-').All(char.IsAsciiDigit)) return "integer";
        if (t.TrimStart('-').All(c => char.IsAsciiDigit(c) || c == '.')) return "decimal";
        var exact = Expressions.Evaluator.Exact(s.Expr, new Dictionary<string, Numbers.BigRational>(), new WorkBudget(WorkBudget.DefaultLimit));
        return exact is null ? "expression" : "rational";
    }
}
