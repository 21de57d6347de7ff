namespace StepDpo.Data.Synthetic;

/// <summary>The four operations a synthetic step may use; one binary operation per step.</summary>
public enum Operation { Add, Subtract, Multiply, Divide }

/// <summary>An operand of a plan step: a number written in the question (<see cref="FromStep"/> is null)
/// or the result of an earlier plan step (<see cref="FromStep"/> is that step's 0-based index).</summary>
public readonly record struct Operand(int Value, int? FromStep)
{
    public static Operand Given(int value) => new(value, null);
    public static Operand ResultOf(int step, int value) => new(value, step);
    public bool IsGiven => FromStep is null;
}

/// <summary>One operation of the reference solution: Left (op) Right = Result.</summary>
public sealed record PlanStep(Operation Operation, Operand Left, Operand Right, int Result)
{
    public static char Symbol(Operation op) => op switch
    {
        Operation.Add => '+',
        Operation.Subtract => '-',
        Operation.Multiply => '*',
        Operation.Divide => '/',
        _ => throw new ArgumentOutOfRangeException(nameof(op)),
    };

    public static bool IsCommutative(Operation op) => op is Operation.Add or Operation.Multiply;

    /// <summary>Exact integer arithmetic; null when the operation has no integer result (division by zero
    /// or with a remainder, which the generator never produces).</summary>
    public static int? Apply(Operation op, long left, long right)
    {
        long r;
        switch (op)
        {
            case Operation.Add: r = left + right; break;
            case Operation.Subtract: r = left - right; break;
            case Operation.Multiply: r = left * right; break;
            case Operation.Divide:
                if (right == 0 || left % right != 0) return null;
                r = left / right; break;
            default: throw new ArgumentOutOfRangeException(nameof(op));
        }
        return r is >= int.MinValue and <= int.MaxValue ? (int)r : null;
    }

    /// <summary>The step as the reference solution writes it, without the "Step k: " label: "4 * 7 = 28."</summary>
    public string Render() => $"{Left.Value} {Symbol(Operation)} {Right.Value} = {Result}.";

    /// <summary>Surface-free identity of this step: the operation and where each operand comes from.</summary>
    internal string Canonical() =>
        $"{Symbol(Operation)}({Describe(Left)},{Describe(Right)})";

    private static string Describe(Operand o) => o.FromStep is int s ? $"r{s}" : o.Value.ToString();
}
