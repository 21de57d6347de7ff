using System.Text.Json.Serialization;
using StepDpo.Stages.Implementations;
using StepDpo.Stages.Verify;

namespace StepDpo.Stages.Locate;

/// <summary>locate.json of the verify stage: how its locator agreed with an exact step checker.</summary>
public sealed record LocateFile(
    [property: JsonPropertyName("truth")] string Truth,
    [property: JsonPropertyName("solutions")] int Solutions,
    [property: JsonPropertyName("rows")] IReadOnlyList<LocateSummary> Rows);

/// <summary>
/// verify's locator scored against the synthetic world's exact step checker (`rule`), over every sampled solution:
/// the wrong answers verify located and the right answers it never looks at (for it they have no wrong step; the
/// checker finds some reached through wrong steps). `rollout`: each search of <see cref="RolloutLocator"/> with its own
/// per-problem cache over the same rollouts (the oracle is deterministic and memoised, so each search's cost is what it
/// alone would sample, while each prefix is sampled once); `judge`: the verdicts and calls verify recorded.
/// </summary>
public static class ExactCheckerEvaluation
{
    public const string FileName = "locate.json";
    public const string Truth = "rule";

    public static async Task<IReadOnlyList<LocateSummary>> RolloutAsync(IReadOnlyList<SampleRecord> samples, Func<SampleRecord, int?> truth,
        Func<SampleRecord, RolloutOracle> oracleFor, Func<SampleRecord, IReadOnlyList<string>> prefixes, int rolloutsPerPrefix,
        Action? onCase = null, CancellationToken ct = default)
    {
        var rows = new List<LocateSummary>();
        foreach (var search in RolloutSearches.All)
        {
            var locators = new Dictionary<string, RolloutLocator>();
            var cases = new List<LocateCase>();
            foreach (var s in samples)
            {
                if (!locators.TryGetValue(s.ProblemId, out var locator))
                    locators[s.ProblemId] = locator = new RolloutLocator(oracleFor(s), rolloutsPerPrefix);
                cases.Add(await RolloutSearches.CaseAsync(search, locator, rolloutsPerPrefix, prefixes(s), s.Correct, truth(s), ct));
                onCase?.Invoke();
            }
            string name = $"rollout, {RolloutSearches.Describe(search)}" + (search == RolloutSearch.Binary ? " (verify's)" : "");
            rows.Add(LocateSummary.Score(name, Truth, "rollouts", cases));
        }
        return rows;
    }

    /// <summary>The locator as verify ran it, from its records: right answers (never verified) name no step.</summary>
    public static LocateSummary FromRecords(string locator, string costUnit, IReadOnlyList<SampleRecord> samples,
        IReadOnlyDictionary<string, VerifiedRecord> records, Func<SampleRecord, int?> truth, Func<VerifiedRecord, double> cost) =>
        LocateSummary.Score(locator, Truth, costUnit, samples.Select(s =>
            s.Correct || !records.TryGetValue(s.Id, out var r)
                ? new LocateCase(truth(s), null)
                : new LocateCase(truth(s), r.FirstWrongStep, r.FirstWrongStep is null && r.Outcome != NoErrorFound, cost(r))));

    /// <summary>The judge's outcome (as verify records it) when it read every step as right: a verdict, not an abstention.</summary>
    static readonly string NoErrorFound = JudgeOutcome.NoErrorFound.ToString().ToLowerInvariant();
}
