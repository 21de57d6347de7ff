using System.Numerics;
using StepDpo.Answers.Numbers;

namespace StepDpo.Answers.Expressions;

/// <summary>Evaluates an <see cref="Expr"/> at one assignment of its variables, twice: exactly
/// (rational arithmetic on big integers, null as soon as a value is irrational, undefined or too
/// large) and approximately (complex doubles, NaN when undefined).</summary>
internal static class Evaluator
{
    public static BigRational? Exact(Expr e, IReadOnlyDictionary<string, BigRational> point, WorkBudget budget)
    {
        budget.Spend();
        switch (e)
        {
            case NumberExpr n: return n.Value;
            case VariableExpr v: return point.TryGetValue(v.Name, out var x) ? x : null;
            case ConstantExpr: return null;
            case NegateExpr neg: return Exact(neg.Operand, point, budget) is { } o ? -o : null;
            case BinaryExpr b:
            {
                var l = Exact(b.Left, point, budget);
                if (l is null) return null;
                var r = Exact(b.Right, point, budget);
                if (r is null) return null;
                return Checked(Binary(b.Op, l.Value, r.Value, budget), budget);
            }
            case FunctionExpr f:
            {
                var args = new BigRational[f.Args.Length];
                for (int i = 0; i < args.Length; i++)
                {
                    var a = Exact(f.Args[i], point, budget);
                    if (a is null) return null;
                    args[i] = a.Value;
                }
                return Checked(Function(f.Name, args, budget), budget);
            }
            default: return null;
        }
    }

    private static BigRational? Checked(BigRational? value, WorkBudget budget)
    {
        if (value is not { } v) return null;
        long bits = v.BitSize;
        budget.Spend(bits / 64);
        return bits > WorkBudget.MaxExactBits ? null : v;
    }

    private static BigRational? Binary(BinaryOp op, BigRational l, BigRational r, WorkBudget budget)
    {
        switch (op)
        {
            case BinaryOp.Add: return l + r;
            case BinaryOp.Subtract: return l - r;
            case BinaryOp.Multiply: return l * r;
            case BinaryOp.Divide: return r.IsZero ? null : l / r;
            case BinaryOp.Power: return Power(l, r, budget);
            default: return null;
        }
    }

    private static BigRational? Power(BigRational b, BigRational exponent, WorkBudget budget)
    {
        if (!exponent.IsInteger && exponent.Denominator > 64) return null;
        var p = exponent.Numerator;
        var q = (int)exponent.Denominator;
        if (b.IsZero) return p.Sign > 0 ? BigRational.Zero : null;
        if (b == BigRational.One) return b;
        if (BigInteger.Abs(p) > WorkBudget.MaxExactBits) return null;
        int n = (int)p;
        // Refuse before computing: 10^{10^{10}} must not allocate gigabytes.
        long bits = System.Math.Max(1, b.BitSize) * System.Math.Abs((long)n);
        if (bits > WorkBudget.MaxExactBits * 2) return null;
        budget.Spend(bits / 32 + 1);
        BigRational? root = q == 1 ? b : BigRational.Root(b, q);
        return root is null ? null : BigRational.Pow(root.Value, n);
    }

    private static BigRational? Function(string name, BigRational[] a, WorkBudget budget)
    {
        switch (name)
        {
            case "sqrt": return a[0].Sign < 0 ? null : BigRational.Root(a[0], 2);
            case "root":
                return a[1].IsInteger && a[1].Sign > 0 && a[1].Numerator <= 64 ? BigRational.Root(a[0], (int)a[1].Numerator) : null;
            case "abs": return a[0].Sign < 0 ? -a[0] : a[0];
            case "floor": return new BigRational(FloorDiv(a[0].Numerator, a[0].Denominator));
            case "ceil": return new BigRational(-FloorDiv(-a[0].Numerator, a[0].Denominator));
            case "factorial":
            {
                if (!a[0].IsInteger || a[0].Sign < 0 || a[0].Numerator > 3000) return null;
                int n = (int)a[0].Numerator;
                budget.Spend(n * 4L);
                var f = BigInteger.One;
                for (int i = 2; i <= n; i++) f *= i;
                return new BigRational(f);
            }
            case "binom":
            {
                if (!a[0].IsInteger || !a[1].IsInteger) return null;
                var n = a[0].Numerator; var k = a[1].Numerator;
                if (k.Sign < 0 || n.Sign < 0 || k > n) return k.Sign < 0 || (n.Sign >= 0 && k > n) ? BigRational.Zero : null;
                if (k > n - k) k = n - k;
                // The result has about k * log2(n) bits: refuse what would not fit before computing it.
                if (k > 5000 || (double)k * (double)n.GetBitLength() > WorkBudget.MaxExactBits * 2) return null;
                budget.Spend((long)k * 4);
                var r = BigInteger.One;
                for (int i = 1; i <= (int)k; i++) r = r * (n - k + i) / i;
                return new BigRational(r);
            }
            case "log": return ExactLog(a[0], a.Length > 1 ? a[1] : (BigRational?)null);
            case "ln": return a[0] == BigRational.One ? BigRational.Zero : null;
            case "sin": case "tan": case "arcsin": case "arctan": case "sinh": case "tanh":
                return a[0].IsZero ? BigRational.Zero : null;
            case "cos": case "cosh": case "sec": return a[0].IsZero ? BigRational.One : null;
            case "exp": return a[0].IsZero ? BigRational.One : null;
            default: return null;
        }
    }

    /// <summary>log_b(a) when it is an integer (log_2 8 = 3, log_10 0.01 = -2); natural log only of 1.</summary>
    private static BigRational? ExactLog(BigRational a, BigRational? b)
    {
        if (a.Sign <= 0) return null;
        if (a == BigRational.One) return BigRational.Zero;
        if (b is not { } bb || bb.Sign <= 0 || bb == BigRational.One) return null;
        double k = System.Math.Round(Log(a) / Log(bb));
        if (double.IsNaN(k) || System.Math.Abs(k) > 4000) return null;
        return BigRational.Pow(bb, (int)k) == a ? new BigRational((int)k) : null;
    }

    private static double Log(BigRational r) => BigInteger.Log(r.Numerator) - BigInteger.Log(r.Denominator);

    private static BigInteger FloorDiv(BigInteger n, BigInteger d)
    {
        var q = BigInteger.DivRem(n, d, out var rem);
        return rem.Sign < 0 ? q - 1 : q;
    }

    public static Complex Approx(Expr e, IReadOnlyDictionary<string, BigRational> point, WorkBudget budget)
    {
        budget.Spend();
        switch (e)
        {
            case NumberExpr n: return n.Value.ToDouble();
            case VariableExpr v: return point.TryGetValue(v.Name, out var x) ? x.ToDouble() : double.NaN;
            case ConstantExpr c:
                return c.Kind switch
                {
                    ConstantKind.Pi => System.Math.PI,
                    ConstantKind.E => System.Math.E,
                    ConstantKind.I => Complex.ImaginaryOne,
                    _ => double.PositiveInfinity,
                };
            case NegateExpr neg: return -Approx(neg.Operand, point, budget);
            case BinaryExpr b:
            {
                var l = Approx(b.Left, point, budget);
                var r = Approx(b.Right, point, budget);
                return b.Op switch
                {
                    BinaryOp.Add => l + r,
                    BinaryOp.Subtract => l - r,
                    BinaryOp.Multiply => l * r,
                    BinaryOp.Divide => r == Complex.Zero ? double.NaN : l / r,
                    _ => ApproxPower(l, r),
                };
            }
            case FunctionExpr f:
            {
                var a = new Complex[f.Args.Length];
                for (int i = 0; i < a.Length; i++) a[i] = Approx(f.Args[i], point, budget);
                return ApproxFunction(f.Name, a);
            }
            default: return double.NaN;
        }
    }

    private static Complex ApproxPower(Complex b, Complex e)
    {
        // Real base and real integer exponent: exact sign, no branch cut noise.
        if (b.Imaginary == 0 && e.Imaginary == 0 && e.Real == System.Math.Round(e.Real))
            return System.Math.Pow(b.Real, e.Real);
        if (b == Complex.Zero) return e.Real > 0 ? Complex.Zero : double.NaN;
        return Complex.Pow(b, e);
    }

    private static Complex ApproxFunction(string name, Complex[] a)
    {
        var x = a[0];
        bool real = x.Imaginary == 0;
        switch (name)
        {
            case "sqrt": return real && x.Real >= 0 ? System.Math.Sqrt(x.Real) : Complex.Sqrt(x);
            case "root":
            {
                double n = a[1].Real;
                // Odd roots of negative reals are real (\sqrt[3]{-8} = -2), as a reader expects.
                if (real && x.Real < 0 && n == System.Math.Round(n) && ((long)n & 1) == 1)
                    return -System.Math.Pow(-x.Real, 1 / n);
                return real && x.Real >= 0 ? System.Math.Pow(x.Real, 1 / n) : Complex.Pow(x, 1 / a[1]);
            }
            case "abs": return Complex.Abs(x);
            case "floor": return real ? System.Math.Floor(x.Real) : double.NaN;
            case "ceil": return real ? System.Math.Ceiling(x.Real) : double.NaN;
            case "factorial":
            {
                if (!real || x.Real < 0 || x.Real != System.Math.Round(x.Real)) return double.NaN;
                if (x.Real > 170) return double.PositiveInfinity;
                double f = 1;
                for (int i = 2; i <= (int)x.Real; i++) f *= i;
                return f;
            }
            case "binom":
            {
                double n = a[0].Real, k = a[1].Real;
                if (k < 0 || k != System.Math.Round(k) || k > 1e6) return double.NaN;
                double r = 1;
                for (int i = 1; i <= (int)k; i++) r = r * (n - k + i) / i;
                return r;
            }
            case "sin": return Complex.Sin(x);
            case "cos": return Complex.Cos(x);
            case "tan": return Complex.Tan(x);
            case "sec": return 1 / Complex.Cos(x);
            case "csc": return 1 / Complex.Sin(x);
            case "cot": return Complex.Cos(x) / Complex.Sin(x);
            case "arcsin": return real && System.Math.Abs(x.Real) <= 1 ? System.Math.Asin(x.Real) : Complex.Asin(x);
            case "arccos": return real && System.Math.Abs(x.Real) <= 1 ? System.Math.Acos(x.Real) : Complex.Acos(x);
            case "arctan": return real ? System.Math.Atan(x.Real) : Complex.Atan(x);
            case "sinh": return Complex.Sinh(x);
            case "cosh": return Complex.Cosh(x);
            case "tanh": return Complex.Tanh(x);
            case "exp": return Complex.Exp(x);
            case "ln": return real && x.Real > 0 ? System.Math.Log(x.Real) : Complex.Log(x);
            case "log":
                if (a.Length > 1) return Complex.Log(x) / Complex.Log(a[1]);
                return real && x.Real > 0 ? System.Math.Log(x.Real) : Complex.Log(x);
            default: return double.NaN;
        }
    }

    public static void CollectVariables(Expr e, HashSet<string> into)
    {
        switch (e)
        {
            case VariableExpr v: into.Add(v.Name); break;
            case NegateExpr n: CollectVariables(n.Operand, into); break;
            case BinaryExpr b: CollectVariables(b.Left, into); CollectVariables(b.Right, into); break;
            case FunctionExpr f: foreach (var a in f.Args) CollectVariables(a, into); break;
        }
    }

    public static bool ContainsInfinity(Expr e) => e switch
    {
        ConstantExpr { Kind: ConstantKind.Infinity } => true,
        NegateExpr n => ContainsInfinity(n.Operand),
        BinaryExpr b => ContainsInfinity(b.Left) || ContainsInfinity(b.Right),
        FunctionExpr f => f.Args.Any(ContainsInfinity),
        _ => false,
    };
}
