using System.Numerics;
using StepDpo.Answers.Numbers;

namespace StepDpo.Answers.Expressions;

/// <summary>Symbolic-numeric equivalence: two expressions are equal when they agree at several
/// pseudo-random points (the same points every run). At each point both sides are evaluated
/// exactly when the arithmetic stays rational, otherwise in complex floating point with a tight
/// relative tolerance. Polynomials and rational functions are thereby decided exactly (with
/// overwhelming probability); irrational constants (sqrt 2, pi) to 1e-9.</summary>
internal static class ExprEquivalence
{
    private const double RelativeTolerance = 1e-9;
    private const int PointsWithVariables = 6;
    private const int MaxVariables = 10;

    public static bool Equal(Expr a, Expr b, WorkBudget budget)
    {
        if (a.Equals(b)) return true;
        var variables = new HashSet<string>(StringComparer.Ordinal);
        Evaluator.CollectVariables(a, variables);
        Evaluator.CollectVariables(b, variables);
        if (variables.Count > MaxVariables) return false;
        if (Evaluator.ContainsInfinity(a) || Evaluator.ContainsInfinity(b))
            return variables.Count == 0 && SameInfinity(a, b, budget);

        int decided = 0;
        foreach (var point in Points(variables, variables.Count == 0 ? 1 : PointsWithVariables))
        {
            var verdict = AgreeAt(a, b, point, budget);
            if (verdict == false) return false;
            if (verdict == true) decided++;
        }
        // Every point undefined (e.g. sqrt(-x) at positive x only): undecidable, so not equal.
        return decided > 0 && (variables.Count == 0 || decided >= 2);
    }

    /// <summary>True/false when both sides are defined at the point, null when either is not.</summary>
    private static bool? AgreeAt(Expr a, Expr b, IReadOnlyDictionary<string, BigRational> point, WorkBudget budget)
    {
        var ea = Evaluator.Exact(a, point, budget);
        var eb = ea is null ? null : Evaluator.Exact(b, point, budget);
        if (ea is not null && eb is not null) return ea.Value == eb.Value;
        var ca = Evaluator.Approx(a, point, budget);
        var cb = Evaluator.Approx(b, point, budget);
        bool fa = IsFinite(ca), fb = IsFinite(cb);
        if (!fa && !fb) return null;
        if (fa != fb) return false;
        return Close(ca, cb);
    }

    public static bool Close(Complex x, Complex y)
    {
        double scale = System.Math.Max(1.0, System.Math.Max(Complex.Abs(x), Complex.Abs(y)));
        return Complex.Abs(x - y) <= RelativeTolerance * scale;
    }

    public static bool IsFinite(Complex c) => double.IsFinite(c.Real) && double.IsFinite(c.Imaginary);

    private static bool SameInfinity(Expr a, Expr b, WorkBudget budget)
    {
        var empty = new Dictionary<string, BigRational>();
        var ca = Evaluator.Approx(a, empty, budget);
        var cb = Evaluator.Approx(b, empty, budget);
        if (IsFinite(ca) || IsFinite(cb)) return IsFinite(ca) && IsFinite(cb) && Close(ca, cb);
        return double.IsInfinity(ca.Real) && ca.Real == cb.Real;
    }

    /// <summary>Deterministic sample points: small non-integer rationals away from 0 and ±1 (where
    /// x, x^2 and 1/x would coincide), fixed by a seed so verdicts never change between runs.</summary>
    public static IEnumerable<Dictionary<string, BigRational>> Points(HashSet<string> variables, int count)
    {
        var names = variables.OrderBy(v => v, StringComparer.Ordinal).ToArray();
        var random = new Random(20240626);
        for (int p = 0; p < count; p++)
        {
            var point = new Dictionary<string, BigRational>(names.Length, StringComparer.Ordinal);
            foreach (var name in names)
            {
                int num = random.Next(2, 40) * (random.Next(2) == 0 ? 1 : -1);
                int den = random.Next(1, 8);
                // Mostly positive values: square roots and logs of a variable stay real.
                if (p % 3 != 2) num = System.Math.Abs(num);
                point[name] = new BigRational(num, den);
            }
            yield return point;
        }
    }

    /// <summary>Equations L1 = R1 and L2 = R2 are the same when L1-R1 is a non-zero constant
    /// multiple of L2-R2 ("y = 2x+3" and "2x - y + 3 = 0").</summary>
    public static bool ProportionalDifferences(Expr l1, Expr r1, Expr l2, Expr r2, WorkBudget budget)
    {
        var d1 = new BinaryExpr(BinaryOp.Subtract, l1, r1);
        var d2 = new BinaryExpr(BinaryOp.Subtract, l2, r2);
        var variables = new HashSet<string>(StringComparer.Ordinal);
        Evaluator.CollectVariables(d1, variables);
        Evaluator.CollectVariables(d2, variables);
        if (variables.Count == 0 || variables.Count > MaxVariables) return false;
        Complex? ratio = null;
        BigRational? exactRatio = null;
        int decided = 0;
        foreach (var point in Points(variables, PointsWithVariables))
        {
            var e1 = Evaluator.Exact(d1, point, budget);
            var e2 = e1 is null ? null : Evaluator.Exact(d2, point, budget);
            if (e1 is { } x1 && e2 is { } x2)
            {
                if (x1.IsZero || x2.IsZero) { if (x1.IsZero != x2.IsZero) return false; continue; }
                var r = x1 / x2;
                if (exactRatio is null) exactRatio = r;
                else if (exactRatio.Value != r) return false;
                decided++;
                continue;
            }
            var c1 = Evaluator.Approx(d1, point, budget);
            var c2 = Evaluator.Approx(d2, point, budget);
            if (!IsFinite(c1) || !IsFinite(c2)) continue;
            if (Complex.Abs(c2) < 1e-12) { if (Complex.Abs(c1) >= 1e-12) return false; continue; }
            var cr = c1 / c2;
            if (ratio is null) ratio = exactRatio is { } er ? er.ToDouble() : cr;
            if (!Close(ratio.Value, cr)) return false;
            decided++;
        }
        if (exactRatio is { } a && ratio is { } b && !Close(a.ToDouble(), b)) return false;
        return decided >= 2;
    }
}
