using StepDpo.Data;
using StepDpo.Stages.Verify;

namespace StepDpo.Stages.Locate;

/// <summary>What a sample file held, and which responses could be scored.</summary>
/// <param name="Responses">responses read</param>
/// <param name="Unscored">responses left out: an unknown label before the first wrong step, or an unknown final verdict</param>
public sealed record SampleFileScores(string Source, int Responses, int Unscored, IReadOnlyList<LocateSummary> Rows);

/// <summary>
/// Scores Monte Carlo first-error localisation on real sampled solutions with per-step labels (the shared
/// *-math-responses.jsonl files): the truth is the first step labelled wrong (`step_labels`), and the rollouts are the
/// files' own, recorded per step as the share of m continuations from the prefix that reached the answer
/// (`step_s_label`, in eighths). No model runs: each search asks those recorded estimates instead of sampling, so its
/// cost is what it would have sampled (m rollouts per prefix it probes). Two aliveness rules: ours (at least one
/// rollout reaches the answer, as <see cref="RolloutLocator"/>) and the files' `step_h_label` (all of them do). The
/// empty prefix is taken as alive (the files do not estimate it).
/// </summary>
public static class SampleFileLocate
{
    static readonly System.Globalization.CultureInfo Inv = System.Globalization.CultureInfo.InvariantCulture;

    public static async Task<SampleFileScores> ScoreAsync(string source, IEnumerable<SampledProblem> problems, int rolloutsPerPrefix,
        CancellationToken ct = default)
    {
        var rules = new (string Name, Func<double, bool> Alive)[]
        {
            ($"rollout (>= 1 of {rolloutsPerPrefix} right)", share => share > 0),
            ($"rollout (all {rolloutsPerPrefix} right, step_h_label)", share => share >= 1),
        };
        var cases = rules.SelectMany(_ => RolloutSearches.All).Select(_ => new List<LocateCase>()).ToArray();
        int responses = 0, unscored = 0;
        foreach (var problem in problems)
            foreach (var r in problem.Responses)
            {
                responses++;
                var (known, truth) = Truth(r.StepLabels);
                if (!known || r.Label is not bool right || r.StepSoftLabels.Count != r.StepLabels.Count)
                {
                    unscored++;
                    continue;
                }
                var prefixes = Enumerable.Range(0, r.StepLabels.Count + 1).Select(i => i.ToString(Inv)).ToList();
                int k = 0;
                foreach (var (_, alive) in rules)
                    foreach (var search in RolloutSearches.All)
                    {
                        // The prefix after step i is alive or dead by its recorded estimate under this rule.
                        RolloutOracle oracle = (prefix, m, _) =>
                        {
                            int i = int.Parse(prefix, Inv);
                            return Task.FromResult(i == 0 || alive(r.StepSoftLabels[i - 1]) ? m : 0);
                        };
                        var locator = new RolloutLocator(oracle, rolloutsPerPrefix, checkEmptyPrefix: false);
                        cases[k++].Add(await RolloutSearches.CaseAsync(search, locator, rolloutsPerPrefix, prefixes, right, truth, ct));
                    }
            }
        var rows = new List<LocateSummary>();
        int j = 0;
        foreach (var (name, _) in rules)
            foreach (var search in RolloutSearches.All)
                rows.Add(LocateSummary.Score($"{name}, {RolloutSearches.Describe(search)}", "step_labels", "rollouts", cases[j++]));
        return new SampleFileScores(source, responses, unscored, rows);
    }

    /// <summary>(known, first wrong step): the first step labelled wrong, 1-based; null when all are right; unknown when
    /// a label is missing before the first wrong one.</summary>
    static (bool Known, int? Step) Truth(IReadOnlyList<bool?> labels)
    {
        for (int i = 0; i < labels.Count; i++)
        {
            if (labels[i] is null) return (false, null);
            if (labels[i] == false) return (true, i + 1);
        }
        return (true, null);
    }
}
