using System.Text.RegularExpressions;
using StepDpo.Data;
using StepDpo.Data.Synthetic;
using StepDpo.Stages.Implementations;
using StepDpo.Stages.Locate;
using StepDpo.Stages.Verify;

namespace StepDpo.Stages.Tests.Locate;

/// <summary>verify's rollout locator scored against the synthetic world's exact checker, on solutions written with
/// known errors and rollouts that reach the answer exactly when the prefix's steps are right.</summary>
public class ExactCheckerEvaluationTests
{
    static readonly SyntheticOptions Options = SyntheticOptions.Default with { MinSteps = 3, MaxSteps = 5 };

    /// <summary>The reference steps with step <paramref name="wrong"/> (1-based) miscounted by one, and the boxed answer
    /// kept or made wrong.</summary>
    static string Solution(SyntheticProblem p, int? wrong, bool rightAnswer)
    {
        var steps = p.ReferenceSteps.ToList();
        if (wrong is int k) steps[k - 1] = Regex.Replace(steps[k - 1], @"= (\d+)\.", m => $"= {int.Parse(m.Groups[1].Value) + 1}.");
        if (!rightAnswer) steps[^1] = Regex.Replace(steps[^1], @"\\boxed\{(\d+)\}", m => $"\\boxed{{{int.Parse(m.Groups[1].Value) + 1}}}");
        return SampleRecord.StepPreamble[..^"Step 1: ".Length] + string.Join("\n", steps.Select((s, i) => $"Step {i + 1}: {s}"));
    }

    [Fact]
    public async Task Binary_search_misses_only_the_errors_behind_right_answers_and_each_prefix_is_sampled_once()
    {
        var problems = SyntheticWorld.Generate(6, seed: 3, Options);
        var byId = problems.ToDictionary(p => p.Id);
        var samples = new List<SampleRecord>();
        foreach (var p in problems)
        {
            var problem = new Problem(p.Id, p.Question, p.Answer, p.Solution);
            int last = p.ReferenceSteps.Count;
            samples.Add(SampleRecord.From(problem, 0, Solution(p, null, rightAnswer: true), "stepdpo"));   // right
            samples.Add(SampleRecord.From(problem, 1, Solution(p, 1, rightAnswer: false), "stepdpo"));    // wrong at step 1
            samples.Add(SampleRecord.From(problem, 2, Solution(p, last, rightAnswer: false), "stepdpo")); // wrong at the last step
            samples.Add(SampleRecord.From(problem, 3, Solution(p, 2, rightAnswer: true), "stepdpo"));     // lucky: wrong step 2, right answer
        }
        Assert.Equal(12, samples.Count(s => s.Correct));
        int? Truth(SampleRecord s) => SyntheticWorld.FirstWrongStep(byId[s.ProblemId], s.Steps);
        Assert.Equal([null, 1, problems[0].ReferenceSteps.Count, 2], samples.Take(4).Select(Truth));

        // Rollouts from a prefix reach the answer exactly when its steps are right (a perfect, monotone oracle).
        var sampled = new List<string>();
        Func<SampleRecord, RolloutOracle> oracleFor = s => (prefix, m, _) =>
        {
            sampled.Add(s.ProblemId + "|" + prefix);
            var steps = Steps.Split(prefix, StepStyle.Labels).Steps.Select(x => x.Content).ToList();
            return Task.FromResult(SyntheticWorld.FirstWrongStep(byId[s.ProblemId], steps) is null ? m : 0);
        };
        var memo = new Dictionary<string, int>();
        Func<SampleRecord, RolloutOracle> memoised = s => async (prefix, m, ct) =>
            memo.TryGetValue(s.ProblemId + "|" + prefix, out var n) ? n : memo[s.ProblemId + "|" + prefix] = await oracleFor(s)(prefix, m, ct);
        IReadOnlyList<string> Prefixes(SampleRecord s)
        {
            var split = Steps.Split(s.Solution, StepStyle.Labels);
            return Enumerable.Range(0, split.Steps.Count + 1).Select(split.Prefix).ToList();
        }

        var rows = await ExactCheckerEvaluation.RolloutAsync(samples, Truth, memoised, Prefixes, rolloutsPerPrefix: 4);
        Assert.Equal(["rollout, binary search (verify's)", "rollout, galloping search", "rollout, linear scan",
            "rollout, linear scan of right answers too"], rows.Select(r => r.Locator));
        foreach (var r in rows)
        {
            Assert.Equal((18, 6), (r.Errors, r.Correct)); // 3 errors and 1 right solution per problem
            Assert.Equal((0, 0, 6), (r.Early, r.Late, r.Cleared));
            Assert.True(r.Cost > 0 && r.Cost % 4 == 0, $"{r.Locator}: cost {r.Cost}");
        }
        // Searches of wrong answers only (as verify) miss the errors behind right answers; scanning those too finds them.
        foreach (var r in rows.Take(3))
        {
            Assert.Equal((12, 6), (r.Exact, r.Missed));
            Assert.Equal(2 * (12.0 / 18) / (12.0 / 18 + 1), r.F1!.Value, 12);
        }
        Assert.Equal((18, 0), (rows[3].Exact, rows[3].Missed));
        Assert.Equal(1.0, rows[3].F1!.Value, 12);
        Assert.True(rows[0].Cost <= rows[2].Cost, $"binary {rows[0].Cost} vs linear {rows[2].Cost} rollouts");
        Assert.Equal(sampled.Count, sampled.Distinct().Count());
        // Each search pays for what it alone would sample; together they sampled each prefix once.
        Assert.InRange(sampled.Count * 4, rows.Max(r => r.Cost), rows.Sum(r => r.Cost));
    }

    [Fact]
    public void A_judge_is_scored_from_verify_s_records_with_no_error_found_as_a_verdict_and_unreadable_as_none()
    {
        var p = SyntheticWorld.Generate(1, seed: 5, Options)[0];
        var problem = new Problem(p.Id, p.Question, p.Answer, p.Solution);
        var samples = new[]
        {
            SampleRecord.From(problem, 0, Solution(p, 1, rightAnswer: false), "stepdpo"),
            SampleRecord.From(problem, 1, Solution(p, 2, rightAnswer: false), "stepdpo"),
            SampleRecord.From(problem, 2, Solution(p, 3, rightAnswer: false), "stepdpo"),
            SampleRecord.From(problem, 3, Solution(p, null, rightAnswer: true), "stepdpo"),
        };
        VerifiedRecord Judged(SampleRecord s, int? step, string outcome, int calls) =>
            new(s.Id, s.ProblemId, s.Question, s.Answer, s.Solution, step, "judge", outcome, Judge: new JudgeCost(calls, 0, 0, 0));
        var records = new[]
        {
            Judged(samples[0], 1, "located", 1),      // exact
            Judged(samples[1], null, "noerrorfound", 1), // says there is none: missed, not abstained
            Judged(samples[2], null, "unparseable", 3),  // no verdict after 3 calls
        }.ToDictionary(r => r.Id);
        var s = ExactCheckerEvaluation.FromRecords("judge", "judge calls", samples, records,
            x => SyntheticWorld.FirstWrongStep(p, x.Steps), r => r.Judge?.Requests ?? 0);
        Assert.Equal((3, 1, 2, 1, 1, 1), (s.Errors, s.Exact, s.Missed, s.Abstained, s.Correct, s.Cleared));
        Assert.Equal((5.0, 5.0), (s.Cost, s.CostPerExact!.Value));
    }
}
