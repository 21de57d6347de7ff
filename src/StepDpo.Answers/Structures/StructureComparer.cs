using StepDpo.Answers.Expressions;
using StepDpo.Answers.Numbers;

namespace StepDpo.Answers.Structures;

/// <summary>Compares a predicted answer with the gold answer, shape by shape.</summary>
internal static class StructureComparer
{
    /// <summary>Fewest significant digits a decimal prediction must give to count as the correctly
    /// rounded value of an irrational or non-terminating gold answer (0.333 for 1/3, 6.28 for 2 pi).</summary>
    private const int MinSignificantDigits = 3;

    public static bool Equal(AnswerValue predicted, AnswerValue gold, WorkBudget budget)
    {
        budget.Spend();
        switch (predicted, gold)
        {
            case (ScalarValue p, ScalarValue g):
                return ExprEquivalence.Equal(p.Expr, g.Expr, budget) || RoundedDecimal(p, g, budget);
            case (TextValue p, TextValue g):
                return TextKey(p.Text) == TextKey(g.Text);
            case (ChoiceValue p, ChoiceValue g):
                return p.Letter == g.Letter;
            case (BaseNumberValue p, BaseNumberValue g):
                return p.Base == g.Base && p.Digits == g.Digits;
            // A model that drops the subscript but writes the right digits is right: "52" for 52_8.
            case (ScalarValue p, BaseNumberValue g):
                return p.Text.Trim().TrimStart('0') == g.Digits;
            case (TupleValue p, TupleValue g):
                return p.Open == g.Open && p.Close == g.Close && Pairwise(p.Items, g.Items, budget);
            case (SetValue p, SetValue g):
                return Unordered(p.Items, g.Items, budget);
            case (UnionValue p, UnionValue g):
                return Unordered(p.Parts, g.Parts, budget);
            case (MatrixValue p, MatrixValue g):
                return p.Rows.Count == g.Rows.Count && p.Rows.Zip(g.Rows).All(r => Pairwise(r.First, r.Second, budget));
            case (MatrixValue p, TupleValue { Open: '(', Close: ')' } g):
                return VectorItems(p) is { } pv && Pairwise(pv, g.Items, budget);
            case (TupleValue { Open: '(', Close: ')' } p, MatrixValue g):
                return VectorItems(g) is { } gv && Pairwise(p.Items, gv, budget);
            case (EquationValue p, EquationValue g):
                return EquationsEqual(p, g, budget);
            case (EquationValue p, _) when IsName(p.LeftText):
                return Equal(p.Right, gold, budget);
            case (_, EquationValue g) when IsName(g.LeftText):
                return Equal(predicted, g.Right, budget);
            case (TextValue p, _):
                return TextKey(p.Text) == TextKey(TextOf(gold));
            case (_, TextValue g):
                return TextKey(TextOf(predicted)) == TextKey(g.Text);
            default:
                return false;
        }
    }

    private static bool Pairwise(IReadOnlyList<AnswerValue> a, IReadOnlyList<AnswerValue> b, WorkBudget budget)
    {
        if (a.Count != b.Count) return false;
        for (int i = 0; i < a.Count; i++) if (!Equal(a[i], b[i], budget)) return false;
        return true;
    }

    /// <summary>Multiset equality: every predicted item matches a distinct gold item.</summary>
    private static bool Unordered(IReadOnlyList<AnswerValue> a, IReadOnlyList<AnswerValue> b, WorkBudget budget)
    {
        if (a.Count != b.Count || a.Count > 64) return false;
        var used = new bool[b.Count];
        foreach (var item in a)
        {
            int match = -1;
            for (int j = 0; j < b.Count && match < 0; j++)
                if (!used[j] && Equal(item, b[j], budget)) match = j;
            if (match < 0) return false;
            used[match] = true;
        }
        return true;
    }

    private static IReadOnlyList<AnswerValue>? VectorItems(MatrixValue m)
    {
        if (m.Rows.All(r => r.Count == 1)) return m.Rows.Select(r => r[0]).ToList();
        if (m.Rows.Count == 1) return m.Rows[0];
        return null;
    }

    private static bool EquationsEqual(EquationValue p, EquationValue g, WorkBudget budget)
    {
        if (NameKey(p.LeftText) == NameKey(g.LeftText) && Equal(p.Right, g.Right, budget)) return true;
        if (p is { Left: ScalarValue pl, Right: ScalarValue pr } && g is { Left: ScalarValue gl, Right: ScalarValue gr })
            return ExprEquivalence.ProportionalDifferences(pl.Expr, pr.Expr, gl.Expr, gr.Expr, budget);
        return false;
    }

    /// <summary>A left side that only names the answer: "x", "k", "x_1", "a_{n}", "\theta", "f(x)",
    /// "p(2)". Not "2x" or "x+y": "2x = 6" does not say the answer is 6.</summary>
    private static bool IsName(string lhs)
    {
        var t = lhs.Replace(" ", "");
        if (t.Length == 0) return false;
        int i = 0;
        if (t[0] == '\\') { i = 1; while (i < t.Length && char.IsAsciiLetter(t[i])) i++; if (i == 1) return false; }
        else if (char.IsAsciiLetter(t[0])) i = 1;
        else return false;
        var rest = t[i..];
        if (rest.Length == 0) return true;
        if (rest[0] == '_') return rest.Length <= 8 && rest[1..].Trim('{', '}').All(char.IsAsciiLetterOrDigit);
        if (rest[0] == '(' && rest[^1] == ')') return rest.Length <= 8 && !rest.Contains('=');
        return false;
    }

    private static string NameKey(string s) => s.Replace(" ", "");

    /// <summary>A decimal prediction of an irrational or non-terminating gold value is accepted when
    /// it is that value correctly rounded (or truncated) to the digits given, with at least
    /// <see cref="MinSignificantDigits"/> significant digits. "0.25" is never 25: percent signs are
    /// stripped, not divided.</summary>
    private static bool RoundedDecimal(ScalarValue p, ScalarValue g, WorkBudget budget)
    {
        if (p.Expr is not NumberExpr && p.Expr is not NegateExpr { Operand: NumberExpr }) return false;
        var text = p.Text.Trim().TrimStart('-', '+');
        int dot = text.IndexOf('.');
        if (dot < 0 || !text.All(c => char.IsAsciiDigit(c) || c == '.')) return false;
        int decimals = text.Length - dot - 1;
        int significant = text.Replace(".", "").TrimStart('0').Length;
        if (decimals == 0 || significant < MinSignificantDigits) return false;
        var vars = new HashSet<string>();
        Evaluator.CollectVariables(g.Expr, vars);
        if (vars.Count > 0) return false;
        var empty = new Dictionary<string, BigRational>();
        var predicted = Evaluator.Exact(p.Expr, empty, budget);
        if (predicted is null) return false;
        var goldExact = Evaluator.Exact(g.Expr, empty, budget);
        // A terminating gold decimal must be matched exactly (it is what the question asked for).
        if (goldExact is { } ge && IsTerminating(ge)) return false;
        double goldValue = goldExact?.ToDouble() ?? ApproxReal(g.Expr, budget);
        if (double.IsNaN(goldValue)) return false;
        double unit = System.Math.Pow(10, -decimals);
        double pv = predicted.Value.ToDouble();
        bool rounded = System.Math.Abs(pv - goldValue) <= unit * (0.5 + 1e-9);
        bool truncated = System.Math.Sign(pv) == System.Math.Sign(goldValue) && System.Math.Abs(pv) <= System.Math.Abs(goldValue)
                         && System.Math.Abs(goldValue) - System.Math.Abs(pv) < unit;
        return rounded || truncated;
    }

    private static double ApproxReal(Expr e, WorkBudget budget)
    {
        var c = Evaluator.Approx(e, new Dictionary<string, BigRational>(), budget);
        return ExprEquivalence.IsFinite(c) && System.Math.Abs(c.Imaginary) < 1e-12 ? c.Real : double.NaN;
    }

    private static bool IsTerminating(BigRational r)
    {
        var d = r.Denominator;
        while (d % 2 == 0) d /= 2;
        while (d % 5 == 0) d /= 5;
        return d.IsOne;
    }

    private static string TextOf(AnswerValue v) => v switch
    {
        ScalarValue s => s.Text,
        TextValue t => t.Text,
        ChoiceValue c => c.Letter.ToString(),
        BaseNumberValue b => b.Digits,
        _ => "\u0000" + v.GetType().Name,
    };

    /// <summary>Text answers compare without case, spaces, LaTeX text wrappers or punctuation.</summary>
    public static string TextKey(string s)
    {
        var sb = new System.Text.StringBuilder(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c == '\\')
            {
                int j = i + 1;
                while (j < s.Length && char.IsAsciiLetter(s[j])) j++;
                var cmd = s[(i + 1)..j];
                if (cmd is "text" or "textbf" or "mathrm" or "mbox" or "textrm" or "mathbf" or "textit" or "emph") { i = j - 1; continue; }
                sb.Append(s, i, j - i);
                i = j - 1;
                continue;
            }
            if (char.IsWhiteSpace(c) || c is '{' or '}' or '.' or '"' or '\'' or '(' or ')') continue;
            sb.Append(char.ToLowerInvariant(c));
        }
        return sb.ToString();
    }
}
