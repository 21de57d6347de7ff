using System.Text.Json;
using StepDpo.Stages.Implementations;
using StepDpo.Stages.Locate;
using StepDpo.Stages.Verify;

namespace StepDpo.Stages.Tests.Locate;

public class LocateScoreTests
{
    [Fact]
    public void Cases_are_exact_early_late_missed_cleared_or_false_alarms_and_F1_is_ProcessBench_s()
    {
        var s = LocateSummary.Score("rollout", "rule", "rollouts",
        [
            new(Truth: 3, Predicted: 3, Cost: 16),                 // exact
            new(Truth: 3, Predicted: 2, Cost: 8),                  // too early: a right step blamed
            new(Truth: 2, Predicted: 4, Cost: 24),                 // too late: the error passed
            new(Truth: 2, Predicted: null, Cost: 8),               // missed: said there is none
            new(Truth: 1, Predicted: null, Abstained: true, Cost: 8), // missed: no verdict
            new(Truth: null, Predicted: null),                     // cleared
            new(Truth: null, Predicted: 2, Cost: 8),               // false alarm
            new(Truth: null, Predicted: null, Abstained: true),    // no verdict: neither cleared nor an alarm
        ]);
        Assert.Equal((5, 1, 1, 1, 2), (s.Errors, s.Exact, s.Early, s.Late, s.Missed));
        Assert.Equal((3, 1, 1, 2), (s.Correct, s.Cleared, s.FalseAlarms, s.Abstained));
        // accuracy on errors 1/5, on correct ones 1/3: F1 = 2 (0.2)(0.3333) / (0.2 + 0.3333) = 0.25
        Assert.Equal(0.2, s.ErrorAccuracy!.Value, 12);
        Assert.Equal(1.0 / 3, s.CorrectAccuracy!.Value, 12);
        Assert.Equal(0.25, s.F1!.Value, 12);
        // 72 rollouts, 3 errors with a step named, 1 of them exact
        Assert.Equal((72.0, 24.0, 72.0), (s.Cost, s.CostPerLocatedError!.Value, s.CostPerExact!.Value));
    }

    [Fact]
    public void Without_one_kind_of_solution_there_is_no_F1_and_the_json_and_table_say_so()
    {
        var s = LocateSummary.Score("judge", "rule", "judge calls", [new(Truth: 2, Predicted: 2, Cost: 1)]);
        Assert.Null(s.CorrectAccuracy);
        Assert.Null(s.F1);
        var json = JsonSerializer.Serialize(s, PipelineStage.Json);
        Assert.Contains("\"f1\":null", json);
        Assert.Contains("\"error_accuracy\":1", json);
        Assert.Equal(s, JsonSerializer.Deserialize<LocateSummary>(json, PipelineStage.Json));
        var table = LocateTable.Markdown([s]);
        Assert.Contains("| judge | rule | 1 | 1 (100.0%) | 0 (0.0%) | 0 (0.0%) | 0 (0.0%) | 0 | – | – | 1 judge calls | 1 | 1 |", table);
    }

    static IReadOnlyList<string> Prefixes(int steps) => Enumerable.Range(0, steps + 1).Select(i => i.ToString()).ToArray();

    /// <summary>Alive per prefix 0..S (true: some rollout reaches the answer); counts the prefixes asked.</summary>
    static (RolloutLocator Locator, List<int> Asked) Locator(params bool[] alive)
    {
        var asked = new List<int>();
        RolloutOracle oracle = (prefix, m, _) => { asked.Add(int.Parse(prefix)); return Task.FromResult(alive[int.Parse(prefix)] ? 3 : 0); };
        return (new RolloutLocator(oracle, 4), asked);
    }

    [Fact]
    public async Task On_noisy_rollouts_binary_search_can_land_late_where_the_linear_scan_is_exact()
    {
        // A wrong answer, first wrong step 1; the rollouts after step 1 die, after steps 2-3 live again (noise), then die.
        bool[] alive = [true, false, true, true, false, false];
        var (binary, bAsked) = Locator(alive);
        var b = await RolloutSearches.CaseAsync(RolloutSearch.Binary, binary, 4, Prefixes(5), answerCorrect: false, truth: 1, default);
        Assert.Equal([0, 2, 3, 4], bAsked); // lo = 0, hi = 5: mid 2 alive, 3 alive, 4 dead
        Assert.Equal(new LocateCase(1, 4, false, 16), b);
        var (linear, lAsked) = Locator(alive);
        var l = await RolloutSearches.CaseAsync(RolloutSearch.Linear, linear, 4, Prefixes(5), answerCorrect: false, truth: 1, default);
        Assert.Equal([0, 1], lAsked);
        Assert.Equal(new LocateCase(1, 1, false, 8), l);
    }

    [Fact]
    public async Task A_right_answer_is_searched_only_by_the_linear_scan_of_every_solution()
    {
        // Right answer through a wrong step 2 whose later prefixes still reach the answer: alive, alive, dead, alive.
        bool[] alive = [true, true, false, true];
        var (binary, bAsked) = Locator(alive);
        Assert.Equal(new LocateCase(2, null), await RolloutSearches.CaseAsync(RolloutSearch.Binary, binary, 4, Prefixes(3), true, 2, default));
        Assert.Empty(bAsked);
        var (verifyLike, vAsked) = Locator(alive);
        Assert.Equal(new LocateCase(2, null), await RolloutSearches.CaseAsync(RolloutSearch.Linear, verifyLike, 4, Prefixes(3), true, 2, default));
        Assert.Empty(vAsked);
        var (linear, lAsked) = Locator(alive);
        Assert.Equal(new LocateCase(2, 2, false, 12), await RolloutSearches.CaseAsync(RolloutSearch.LinearEverySolution, linear, 4, Prefixes(3), true, 2, default));
        Assert.Equal([0, 1, 2], lAsked);
        // Nothing dead before the (alive) end: no step named, not the end.
        var (clean, _) = Locator(true, true, true, true);
        Assert.Equal(new LocateCase(null, null, false, 12), await RolloutSearches.CaseAsync(RolloutSearch.LinearEverySolution, clean, 4, Prefixes(3), true, null, default));
        // Unsolved from the start: no verdict.
        var (unsolved, _) = Locator(false, true, true, false);
        Assert.Equal(new LocateCase(3, null, true, 4), await RolloutSearches.CaseAsync(RolloutSearch.Galloping, unsolved, 4, Prefixes(3), false, 3, default));
    }
}
