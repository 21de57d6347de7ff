using System.Text.Json.Serialization;

namespace StepDpo.Stages.Evaluation;

/// <summary>The contents of summary.json: one result per (model, benchmark) and one paired comparison of
/// "start" vs "trained" per benchmark evaluated for both.</summary>
public sealed record EvalSummary(
    [property: JsonPropertyName("results")] IReadOnlyList<BenchmarkResult> Results,
    [property: JsonPropertyName("comparisons")] IReadOnlyList<Comparison> Comparisons)
{
    public BenchmarkResult? Result(string model, string benchmark) =>
        Results.FirstOrDefault(r => r.Model == model && r.Benchmark == benchmark);

    public Comparison? ComparisonFor(string benchmark) => Comparisons.FirstOrDefault(c => c.Benchmark == benchmark);
}

/// <summary>Greedy accuracy of one model on one benchmark with its Wilson 95% interval; per-level and
/// per-subject accuracy where the benchmark has them; pass@k and majority-vote accuracy where samples
/// were drawn (empty / null otherwise); the greedy accuracy under each compared grader (ours and the paper's) and
/// on how many problems they disagree.</summary>
public sealed record BenchmarkResult(
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("benchmark")] string Benchmark,
    [property: JsonPropertyName("accuracy")] double Accuracy,
    [property: JsonPropertyName("n")] int N,
    [property: JsonPropertyName("correct")] int Correct,
    [property: JsonPropertyName("ci95")] IReadOnlyList<double> Ci95,
    [property: JsonPropertyName("by_level")] IReadOnlyDictionary<string, GroupStat> ByLevel,
    [property: JsonPropertyName("by_subject")] IReadOnlyDictionary<string, GroupStat> BySubject,
    [property: JsonPropertyName("pass_at_k")] IReadOnlyDictionary<string, double> PassAtK,
    [property: JsonPropertyName("majority_accuracy")] double? MajorityAccuracy,
    [property: JsonPropertyName("by_grader")] IReadOnlyDictionary<string, double>? ByGrader = null,
    [property: JsonPropertyName("grader_disagreements")] int GraderDisagreements = 0);

/// <summary>Model B against model A on the same problems: delta = accuracy(B) - accuracy(A); b_only / a_only
/// count the problems only B / only A solved; mcnemar_p is the exact two-sided McNemar p-value.</summary>
public sealed record Comparison(
    [property: JsonPropertyName("a")] string A,
    [property: JsonPropertyName("b")] string B,
    [property: JsonPropertyName("benchmark")] string Benchmark,
    [property: JsonPropertyName("delta")] double Delta,
    [property: JsonPropertyName("mcnemar_p")] double McNemarP,
    [property: JsonPropertyName("b_only")] int BOnly,
    [property: JsonPropertyName("a_only")] int AOnly);

/// <summary>The graded greedy answer of one model to one problem; <see cref="ByGrader"/> holds the verdict of every
/// compared grader on the same extracted answer.</summary>
public sealed record ProblemOutcome(string Model, string Benchmark, string ProblemId, bool Correct,
    string? Level = null, string? Subject = null, IReadOnlyDictionary<string, bool>? ByGrader = null);
