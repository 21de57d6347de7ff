using StepDpo.Data;
using StepDpo.Stages.Locate;

namespace StepDpo.Stages.Tests.Locate;

/// <summary>Monte Carlo localisation on REAL sampled solutions (Qwen2.5-7B on MATH, shared/data/samples) against their
/// per-step labels, each search asking the files' recorded rollout estimates.</summary>
public class SampleFileLocateTests
{
    static string Fixture => Path.Combine(AppContext.BaseDirectory, "Fixtures", "qwen2.5-7b-math-responses.jsonl");

    /// <summary>The linear scan, recomputed here from the file's fields: the first step whose estimate says dead; a wrong
    /// answer is dead at its end; probes are the prefixes 1.. up to the first dead one, before the end.</summary>
    static (LocateSummary Expected, int Scored) LinearByHand(IEnumerable<SampledProblem> problems, Func<double, bool> alive)
    {
        var cases = new List<LocateCase>();
        foreach (var r in problems.SelectMany(p => p.Responses))
        {
            int firstFalse = r.StepLabels.ToList().FindIndex(l => l != true);
            if (firstFalse >= 0 && r.StepLabels[firstFalse] is null || r.Label is null) continue;
            int? truth = firstFalse < 0 ? null : firstFalse + 1;
            int steps = r.StepLabels.Count, probes = 0;
            int? named = r.Label == true ? null : steps;
            for (int i = 1; i < steps; i++)
            {
                probes++;
                if (!alive(r.StepSoftLabels[i - 1])) { named = i; break; }
            }
            cases.Add(new LocateCase(truth, named, Cost: 8 * probes));
        }
        return (LocateSummary.Score("by hand", "step_labels", "rollouts", cases), cases.Count);
    }

    [Fact]
    public async Task The_linear_scans_match_a_hand_count_and_the_searches_of_wrong_answers_never_name_a_step_in_a_right_one()
    {
        var problems = SampleFile.Read(Fixture).ToList();
        var scores = await SampleFileLocate.ScoreAsync("qwen2.5-7b", problems, rolloutsPerPrefix: 8);
        Assert.Equal(150, scores.Responses);
        Assert.Equal(2, scores.Unscored); // two responses with an [invalid] verdict
        Assert.Equal(8, scores.Rows.Count);

        var any = scores.Rows.Single(r => r.Locator == "rollout (>= 1 of 8 right), linear scan of right answers too");
        var (expected, scored) = LinearByHand(problems, share => share > 0);
        Assert.Equal(148, scored);
        Assert.Equal(expected with { Locator = any.Locator }, any);
        var all = scores.Rows.Single(r => r.Locator == "rollout (all 8 right, step_h_label), linear scan of right answers too");
        Assert.Equal(LinearByHand(problems, share => share >= 1).Expected with { Locator = all.Locator }, all);

        var wrongOnly = scores.Rows.Single(r => r.Locator == "rollout (>= 1 of 8 right), linear scan");
        var (expectedWrongOnly, _) = LinearByHand(problems.Select(p => p with { Responses = p.Responses.Where(r => r.Label != true).ToList() }), share => share > 0);
        Assert.Equal((expectedWrongOnly.Exact, expectedWrongOnly.Early, expectedWrongOnly.Late, expectedWrongOnly.Cost),
            (wrongOnly.Exact, wrongOnly.Early, wrongOnly.Late, wrongOnly.Cost));
        var binary = scores.Rows.Single(r => r.Locator == "rollout (>= 1 of 8 right), binary search");
        var rightAnswers = problems.SelectMany(p => p.Responses).Where(r => r.Label == true && r.StepLabels.All(l => l is not null)).ToList();
        Assert.Equal((any.Errors, any.Correct), (binary.Errors, binary.Correct));
        Assert.Equal(rightAnswers.Count(r => r.StepLabels.All(l => l == true)), binary.Cleared);
        Assert.Equal(0, binary.Abstained);
        Assert.True(binary.Exact + binary.Early + binary.Late > 40, $"{binary.Exact + binary.Early + binary.Late} errors located");
    }
}
