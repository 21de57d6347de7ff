using StepDpo.Core;

namespace StepDpo.Data.Synthetic;

/// <summary>Which side of the fixed train/test partition a generator draws from. The partition is a
/// property of the problem itself (a hash of its arithmetic plan), so no seed or count can make a test
/// problem appear in the training split.</summary>
public enum SyntheticSplit { Train, Test }

/// <summary>Difficulty knobs of the synthetic world. Defaults give problems a 4-layer byte-level model
/// learns to a middling accuracy in a few minutes: 2-5 steps, operands up to 20, values at most 99 (two digits),
/// question + solution of roughly 120-250 bytes.</summary>
public sealed record SyntheticOptions
{
    /// <summary>Fewest operations (= solution steps) per problem.</summary>
    public int MinSteps { get; init; } = 2;
    /// <summary>Most operations (= solution steps) per problem.</summary>
    public int MaxSteps { get; init; } = 5;
    /// <summary>Largest starting quantity.</summary>
    public int MaxStart { get; init; } = 30;
    /// <summary>Largest number added or subtracted in one event.</summary>
    public int MaxAddend { get; init; } = 20;
    /// <summary>Largest factor: group count, group size, multiplier, divisor.</summary>
    public int MaxFactor { get; init; } = 9;
    /// <summary>No intermediate or final quantity exceeds this.</summary>
    public int MaxValue { get; init; } = 99;
    /// <summary>Story templates to draw from (names from <see cref="StoryTemplates.Names"/>); null = all.</summary>
    public IReadOnlyList<string>? Templates { get; init; }
    /// <summary>Which split to draw from.</summary>
    public SyntheticSplit Split { get; init; } = SyntheticSplit.Train;
    /// <summary>Share of all problem identities that belong to the test split.</summary>
    public double TestFraction { get; init; } = 0.2;

    public static SyntheticOptions Default { get; } = new();

    /// <summary>Rejects knob values that cannot produce problems, naming the knob.</summary>
    public void Validate()
    {
        Require(MinSteps >= 1, "min_steps", $"must be at least 1 (got {MinSteps})");
        Require(MaxSteps >= MinSteps, "max_steps", $"must be at least min_steps={MinSteps} (got {MaxSteps})");
        Require(MaxSteps <= 12, "max_steps", $"must be at most 12 (got {MaxSteps})");
        Require(MaxStart >= 2, "max_start", $"must be at least 2 (got {MaxStart})");
        Require(MaxAddend >= 2, "max_addend", $"must be at least 2 (got {MaxAddend})");
        Require(MaxFactor >= 2, "max_factor", $"must be at least 2 (got {MaxFactor})");
        Require(MaxValue >= System.Math.Max(MaxStart, 2 * MaxFactor), "max_value",
            $"must be at least max_start and 2*max_factor (got {MaxValue})");
        Require(TestFraction is > 0 and < 1, "test_fraction", $"must be strictly between 0 and 1 (got {TestFraction})");
        foreach (var t in Templates ?? [])
            Require(StoryTemplates.Names.Contains(t), "templates",
                $"unknown template '{t}'; known: {string.Join(", ", StoryTemplates.Names)}");
        Require(Templates is null || Templates.Count > 0, "templates", "must not be empty (omit it to use all)");
    }

    private static void Require(bool ok, string key, string what)
    {
        if (!ok) throw new StepDpoException($"synthetic options: {key} {what}");
    }
}
