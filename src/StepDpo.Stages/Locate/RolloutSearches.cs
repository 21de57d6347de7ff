using StepDpo.Stages.Verify;

namespace StepDpo.Stages.Locate;

/// <summary>The searches of <see cref="RolloutLocator"/>: OmegaPRM's binary search (what verify runs), galloping, and
/// the step-by-step scan of Math-Shepherd, on wrong answers only (as verify); and the scan of every solution.</summary>
public enum RolloutSearch { Binary, Galloping, Linear, LinearEverySolution }

public static class RolloutSearches
{
    public static readonly IReadOnlyList<RolloutSearch> All =
        [RolloutSearch.Binary, RolloutSearch.Galloping, RolloutSearch.Linear, RolloutSearch.LinearEverySolution];

    public static string Describe(RolloutSearch s) => s switch
    {
        RolloutSearch.Binary => "binary search",
        RolloutSearch.Galloping => "galloping search",
        RolloutSearch.Linear => "linear scan",
        _ => "linear scan of right answers too",
    };

    /// <summary>
    /// One solution searched as a locator would search it. A wrong answer is dead at its end, so the search looks for the
    /// first dead prefix. A right answer is alive at its end: verify never searches one (a search that assumes aliveness
    /// only goes from alive to dead has nothing to find), so the locator names no step there without sampling anything;
    /// only <see cref="RolloutSearch.LinearEverySolution"/> probes its prefixes before the end and names the first dead
    /// one (a right answer reached through a wrong step, or Monte Carlo noise). Cost: the rollouts of the prefixes this
    /// search sampled (prefixes <paramref name="locator"/> evaluated before are free, as in verify).
    /// </summary>
    /// <param name="prefixes">prefixes[i] ends after step i, i = 0..S</param>
    public static async Task<LocateCase> CaseAsync(RolloutSearch search, RolloutLocator locator, int rolloutsPerPrefix,
        IReadOnlyList<string> prefixes, bool answerCorrect, int? truth, CancellationToken ct)
    {
        if (answerCorrect && search != RolloutSearch.LinearEverySolution) return new LocateCase(truth, null);
        var found = search switch
        {
            RolloutSearch.Binary => await locator.BinarySearchAsync(prefixes, ct),
            RolloutSearch.Galloping => await locator.GallopingSearchAsync(prefixes, ct),
            RolloutSearch.Linear or RolloutSearch.LinearEverySolution => await locator.LinearScanAsync(prefixes, ct),
            _ => throw new ArgumentOutOfRangeException(nameof(search)),
        };
        bool unsolved = found.Outcome == RolloutOutcome.ProblemUnsolved;
        int? step = found.FirstWrongStep;
        if (answerCorrect && step == prefixes.Count - 1) step = null; // nothing dead before the end, and the end is alive
        return new LocateCase(truth, unsolved ? null : step, unsolved, found.OracleCalls * rolloutsPerPrefix);
    }
}
