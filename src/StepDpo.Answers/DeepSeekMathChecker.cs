using System.Globalization;
using System.Numerics;
using StepDpo.Answers.Expressions;

namespace StepDpo.Answers;

/// <summary>
/// The answer comparison of the Step-DPO paper's evaluation (the reference's eval_math.py: DeepSeekMath's is_correct and
/// math_equal), so that our numbers are comparable with the published ones. In order:
/// 1. the same text;
/// 2. unions (\cup): every part of each side equals some part of the other;
/// 3. numbers (commas dropped; "25%" or "25\%" is 0.25): equal within 1e-3, also against the gold value x100 and /100
///    (the percentage variants); two numbers that differ are not equal, whatever else could be said;
/// 4. the same text after the MATH normalisation (<see cref="HendrycksChecker.Strip"/>, as its answer extraction does);
/// 5. tuples and intervals ((..) or [..] on both sides, as many parts): element-wise; pmatrix/bmatrix: cell-wise;
/// 6. equations: both "a = b" compare a - b up to sign; "x = 5" against "5" compares the right side;
/// 7. symbolic: both parsed as LaTeX expressions (our parser and evaluator in sympy's place) and equal, or both constants
///    within 1e-3.
/// Bounded by the work budget; undecidable is "not equal".
/// </summary>
public static class DeepSeekMathChecker
{
    const double Tolerance = 1e-3;
    const int MaxDepth = 8;

    public static bool IsEquivalent(string? prediction, string? gold)
    {
        if (prediction is null || gold is null) return false;
        if (prediction.Length > Grading.MaxAnswerLength || gold.Length > Grading.MaxAnswerLength) return prediction == gold;
        try { return Equal(prediction, gold, new WorkBudget(WorkBudget.DefaultLimit), 0); }
        catch (BudgetExceededException) { return false; }
        catch (Exception e) when (e is not OutOfMemoryException) { return false; }
    }

    static bool Equal(string p, string g, WorkBudget budget, int depth)
    {
        if (depth > MaxDepth) return false;
        p = p.Trim();
        g = g.Trim();
        if (p == g) return p.Length > 0;
        if (p.Length == 0) return false;
        if (p.Contains("\\cup") && g.Contains("\\cup"))
        {
            var ps = p.Split("\\cup");
            var gs = g.Split("\\cup");
            return ps.All(x => gs.Any(y => Equal(x, y, budget, depth + 1))) && gs.All(y => ps.Any(x => Equal(x, y, budget, depth + 1)));
        }
        if (Number(p) is { } x && Number(g) is { } y)
            return Close(x, y) || Close(x, y / 100) || Close(x, y * 100);
        if (HendrycksChecker.Strip(p) is { } sp && sp.Length > 0 && sp == HendrycksChecker.Strip(g)) return true;
        if (Bracketed(p) && Bracketed(g))
        {
            var pp = p[1..^1].Split(',');
            var gp = g[1..^1].Split(',');
            if (pp.Length == gp.Length && pp.Zip(gp).All(t => Equal(t.First, t.Second, budget, depth + 1))) return true;
        }
        if (Matrix(p) is { } pm && Matrix(g) is { } gm && pm.Length == gm.Length
            && pm.Zip(gm).All(r => r.First.Length == r.Second.Length && r.First.Zip(r.Second).All(c => Equal(c.First, c.Second, budget, depth + 1))))
            return true;
        int pe = p.Count(c => c == '='), ge = g.Count(c => c == '=');
        if (pe == 1 && ge == 1)
        {
            string Difference(string s) { var q = s.Split('='); return $"{q[0].Trim()} - ({q[1].Trim()})"; }
            string dp = Difference(p), dg = Difference(g);
            if (Symbolic(dp, dg, budget) || Symbolic($"-({dp})", dg, budget)) return true;
        }
        else if (pe == 1 && ge == 0 && p.Split('=')[0].Trim().Length <= 2)
        {
            if (Equal(p.Split('=')[1], g, budget, depth + 1)) return true;
        }
        else if (ge == 1 && pe == 0 && g.Split('=')[0].Trim().Length <= 2)
        {
            if (Equal(p, g.Split('=')[1], budget, depth + 1)) return true;
        }
        return Symbolic(p, g, budget);
    }

    /// <summary>Python's math.isclose with abs_tol 1e-3 (and its default relative tolerance).</summary>
    static bool Close(double a, double b) => Math.Abs(a - b) <= Math.Max(1e-9 * Math.Max(Math.Abs(a), Math.Abs(b)), Tolerance);

    /// <summary>A plain decimal number (thousands commas dropped), or a percentage of one (value / 100).</summary>
    static double? Number(string s)
    {
        s = s.Replace(",", "").Trim();
        if (Plain(s) is { } v) return v;
        if (!s.EndsWith('%')) return null;
        s = s[..^1];
        if (s.EndsWith('\\')) s = s[..^1];
        return Plain(s) is { } percent ? percent / 100 : null;
    }

    static double? Plain(string s) =>
        s.Length > 0 && s.All(c => char.IsAsciiDigit(c) || c is '.' or '-' or '+' or 'e' or 'E')
        && double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && double.IsFinite(v) ? v : null;

    static bool Bracketed(string s) => s.Length > 2 && s[0] is '(' or '[' && s[^1] is ')' or ']';

    static string[][]? Matrix(string s)
    {
        foreach (var kind in new[] { "pmatrix", "bmatrix" })
        {
            string open = $"\\begin{{{kind}}}", close = $"\\end{{{kind}}}";
            if (!s.StartsWith(open) || !s.EndsWith(close)) continue;
            return s[open.Length..^close.Length].Split("\\\\").Select(r => r.Trim()).Where(r => r.Length > 0)
                .Select(r => r.Split('&')).ToArray();
        }
        return null;
    }

    static bool Symbolic(string a, string b, WorkBudget budget)
    {
        var ea = LatexParser.TryParse(a, budget);
        var eb = ea is null ? null : LatexParser.TryParse(b, budget);
        if (ea is null || eb is null) return false;
        if (ExprEquivalence.Equal(ea, eb, budget)) return true;
        var variables = new HashSet<string>(StringComparer.Ordinal);
        Evaluator.CollectVariables(ea, variables);
        Evaluator.CollectVariables(eb, variables);
        if (variables.Count > 0) return false;
        var empty = new Dictionary<string, Numbers.BigRational>();
        Complex x = Evaluator.Approx(ea, empty, budget), y = Evaluator.Approx(eb, empty, budget);
        return ExprEquivalence.IsFinite(x) && ExprEquivalence.IsFinite(y) && Complex.Abs(x - y) <= Tolerance;
    }
}
