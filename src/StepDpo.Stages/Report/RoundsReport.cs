using System.Text.Json.Serialization;
using StepDpo.Stages.Evaluation;

namespace StepDpo.Stages.Report;

/// <summary>Round r of a run of several (`rounds: N`): its evaluation, in which start is the model of round r-1 and
/// trained the model of round r (so its comparison is the paired test between consecutive rounds), and how its pairs
/// were made.</summary>
public sealed record RoundOutcome(int Round, EvalSummary Summary, PipelineFunnel? Funnel);

/// <summary>Every round of a run, and the start model against the last round's on the same problems.</summary>
public sealed record RoundsReport(IReadOnlyList<RoundOutcome> Rounds, EvalSummary StartToFinal)
{
    /// <summary>Accuracy per round (0: the start model) on each benchmark, each round against the one before.</summary>
    public IReadOnlyList<RoundRow> Rows()
    {
        var rows = new List<RoundRow>();
        foreach (var benchmark in Rounds[0].Summary.Results.Select(r => r.Benchmark).Distinct())
        {
            if (Rounds[0].Summary.Result(SummaryBuilder.StartModel, benchmark) is { } start) rows.Add(RoundRow.Of(0, start, null));
            foreach (var round in Rounds)
                if (round.Summary.Result(SummaryBuilder.TrainedModel, benchmark) is { } trained)
                    rows.Add(RoundRow.Of(round.Round, trained, round.Summary.ComparisonFor(benchmark)));
        }
        return rows;
    }
}

/// <summary>One model's accuracy in a run of rounds, with its 95% Wilson interval, and the exact McNemar test against the
/// round before (null for round 0): <see cref="Fixed"/> problems only it solved, <see cref="Broken"/> only the one before.</summary>
public sealed record RoundRow(string Benchmark, int Round, double Accuracy, IReadOnlyList<double> Ci95, int Correct, int N,
    double? Delta, [property: JsonPropertyName("mcnemar_p")] double? McNemarP, int? Fixed, int? Broken)
{
    public string Model => Round == 0 ? SummaryBuilder.StartModel : $"round {Round}";

    public static RoundRow Of(int round, BenchmarkResult r, Comparison? before) =>
        new(r.Benchmark, round, r.Accuracy, r.Ci95, r.Correct, r.N, before?.Delta, before?.McNemarP, before?.BOnly, before?.AOnly);
}
