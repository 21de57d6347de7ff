using Snapshooter.Xunit;
using StepDpo.Core;
using StepDpo.Stages.Evaluation;

namespace StepDpo.Stages.Tests.Evaluation;

public class SummaryTests
{
    /// <summary>20 MATH problems (levels 1-5, two subjects) and 10 GSM8K problems; trained fixes 6 MATH
    /// problems and breaks 1.</summary>
    internal static EvalSummary Fixture()
    {
        var builder = new SummaryBuilder().WithPassAtK(1, 4, 16);
        string[] subjects = ["Algebra", "Geometry"];
        for (int i = 0; i < 20; i++)
        {
            string level = (i % 5 + 1).ToString(), subject = subjects[i % 2];
            bool start = i < 8, trained = (i < 14) && i != 3;
            builder.Add(new ProblemOutcome("start", "math", $"m{i}", start, level, subject));
            builder.Add(new ProblemOutcome("trained", "math", $"m{i}", trained, level, subject));
            builder.AddSamples("trained", "math", $"m{i}", samples: 4, correctSamples: i % 5, majorityCorrect: i % 3 == 0);
        }
        for (int i = 0; i < 10; i++)
        {
            builder.Add(new ProblemOutcome("start", "gsm8k", $"g{i}", i < 6));
            builder.Add(new ProblemOutcome("trained", "gsm8k", $"g{i}", i < 7));
        }
        return builder.Build();
    }

    [Fact]
    public void Results_and_comparisons_have_the_expected_numbers()
    {
        var s = Fixture();
        var start = s.Result("start", "math")!;
        var trained = s.Result("trained", "math")!;
        Assert.Equal((20, 8, 0.4), (start.N, start.Correct, start.Accuracy));
        Assert.Equal((20, 13, 0.65), (trained.N, trained.Correct, trained.Accuracy));
        Assert.Equal(EvalStats.Wilson(13, 20), (trained.Ci95[0], trained.Ci95[1]));
        Assert.Equal(new GroupStat(4, 3, 0.75), trained.ByLevel["1"]);
        Assert.Equal(["Algebra", "Geometry"], trained.BySubject.Keys);
        Assert.Equal(["1", "4"], trained.PassAtK.Keys); // 16 > 4 samples: not reported
        Assert.Equal(Enumerable.Range(0, 20).Average(i => (i % 5) / 4.0), trained.PassAtK["1"], 12);
        Assert.Equal(7 / 20.0, trained.MajorityAccuracy!.Value, 12);
        Assert.Empty(start.PassAtK);
        Assert.Null(start.MajorityAccuracy);

        var math = s.ComparisonFor("math")!;
        Assert.Equal(("start", "trained", 6, 1), (math.A, math.B, math.BOnly, math.AOnly));
        Assert.Equal(0.25, math.Delta, 12);
        Assert.Equal(EvalStats.McNemarExactP(6, 1), math.McNemarP);
        Assert.Equal(["math", "gsm8k"], s.Comparisons.Select(c => c.Benchmark));
        Assert.Equal(["start/math", "trained/math", "start/gsm8k", "trained/gsm8k"], s.Results.Select(r => $"{r.Model}/{r.Benchmark}"));
    }

    [Fact]
    public void Json_has_the_documented_shape() => Snapshot.Match(SummaryJson.Serialize(Fixture()));

    [Fact]
    public void Json_round_trips_through_a_file()
    {
        string dir = Directory.CreateTempSubdirectory("stepdpo-summary-").FullName;
        try
        {
            string path = Path.Combine(dir, "summary.json");
            SummaryJson.Write(path, Fixture());
            var back = SummaryJson.Read(path);
            Assert.Equal(SummaryJson.Serialize(Fixture()), SummaryJson.Serialize(back));
            File.WriteAllText(path, "{\"results\": [{\"model\": 3}], \"comparisons\": []}");
            var ex = Assert.Throws<StepDpoException>(() => SummaryJson.Read(path));
            Assert.Contains(path, ex.Message);
            Assert.Contains("$.results[0].model", ex.Message);
            File.WriteAllText(path, SummaryJson.Serialize(Fixture()).Replace("\"ci95\": [", "\"ci95\": [0.5, "));
            ex = Assert.Throws<StepDpoException>(() => SummaryJson.Read(path));
            Assert.Contains("results[0].ci95 must be [lo, hi]", ex.Message);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Unpaired_problem_sets_and_duplicates_are_input_errors()
    {
        var b = new SummaryBuilder()
            .Add(new ProblemOutcome("start", "math", "p1", true))
            .Add(new ProblemOutcome("trained", "math", "p2", true));
        var ex = Assert.Throws<StepDpoException>(() => b.Build());
        Assert.Contains("'p1' only for 'start'", ex.Message);
        ex = Assert.Throws<StepDpoException>(() => new SummaryBuilder()
            .Add(new ProblemOutcome("start", "math", "p1", true)).Add(new ProblemOutcome("start", "math", "p1", false)));
        Assert.Contains("graded twice", ex.Message);
    }

    [Fact]
    public void A_single_model_gives_results_without_comparisons()
    {
        var s = new SummaryBuilder().Add(new ProblemOutcome("start", "gsm8k", "g1", false)).Build();
        Assert.Single(s.Results);
        Assert.Empty(s.Comparisons);
        Assert.Equal(0, s.Results[0].Accuracy);
    }
}
