using StepDpo.Answers.Numbers;

namespace StepDpo.Answers.Expressions;

/// <summary>A parsed mathematical expression. Kept deliberately small: everything the answers of
/// MATH-like benchmarks use reduces to these nodes.</summary>
internal abstract record Expr;

internal sealed record NumberExpr(BigRational Value) : Expr;
/// <summary>A free variable (x, y, \theta, x_1): evaluated at random points.</summary>
internal sealed record VariableExpr(string Name) : Expr;
internal enum ConstantKind { Pi, E, I, Infinity }
internal sealed record ConstantExpr(ConstantKind Kind) : Expr;
internal enum BinaryOp { Add, Subtract, Multiply, Divide, Power }
internal sealed record BinaryExpr(BinaryOp Op, Expr Left, Expr Right) : Expr;
internal sealed record NegateExpr(Expr Operand) : Expr;
/// <summary>sqrt, root (with degree), sin, cos, ..., ln, log (with base), abs, floor, ceil, exp, binom, factorial.</summary>
internal sealed record FunctionExpr(string Name, Expr[] Args) : Expr
{
    public bool Equals(FunctionExpr? other) => other is not null && Name == other.Name && Args.SequenceEqual(other.Args);
    public override int GetHashCode() => HashCode.Combine(Name, Args.Length);
}
