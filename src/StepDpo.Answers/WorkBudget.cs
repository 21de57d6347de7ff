namespace StepDpo.Answers;

/// <summary>A deterministic bound on the work spent deciding one pair. Counting operations (not
/// wall-clock time) keeps verdicts identical from run to run and machine to machine; running out
/// means "undecidable", which the grader reports as "not equal".</summary>
internal sealed class WorkBudget(long limit)
{
    public const long DefaultLimit = 2_000_000;
    /// <summary>Largest exact intermediate we build (bits); beyond it we fall back to floating point.</summary>
    public const long MaxExactBits = 40_000;
    /// <summary>Deepest nesting the parser follows; deeper input is undecidable rather than a stack overflow.</summary>
    public const int MaxDepth = 150;

    private long left = limit;

    public void Spend(long units = 1)
    {
        left -= units;
        if (left < 0) throw new BudgetExceededException();
    }
}

/// <summary>Thrown inside the checker only, and always caught at its boundary.</summary>
internal sealed class BudgetExceededException : Exception
{
    public BudgetExceededException() : base("work budget exceeded") { }
}
