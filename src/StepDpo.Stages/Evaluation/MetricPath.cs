using StepDpo.Core;

namespace StepDpo.Stages.Evaluation;

/// <summary>
/// Names of summary metrics, "scope.benchmark.field":
///   {model}.{benchmark}.accuracy | n | correct | ci95_lo | ci95_hi | majority_accuracy | pass_at_k.{k}
///   | by_grader.{stepdpo|deepseekmath} | grader_disagreements
///                       | by_level.{level} | by_subject.{subject}   (model: start, trained, ...)
///   delta.{benchmark}.accuracy                                     (trained minus start, paired)
///   comparison.{benchmark}.delta | mcnemar_p | b_only | a_only
/// Benchmark names must not contain dots; level and subject keys may (everything after the field).
/// </summary>
public static class MetricPath
{
    private static readonly string[] ResultFields = ["accuracy", "n", "correct", "ci95_lo", "ci95_hi", "majority_accuracy", "pass_at_k", "by_level", "by_subject", "by_grader", "grader_disagreements"];
    private static readonly string[] ComparisonFields = ["delta", "mcnemar_p", "b_only", "a_only"];
    private static readonly string[] Keyed = ["pass_at_k", "by_level", "by_subject", "by_grader"];

    /// <summary>Throws when the name cannot denote any metric (a typo in the manifest), whatever the summary holds.</summary>
    public static void Validate(string metric, string where = "expect")
    {
        var p = metric.Split('.', 4);
        string Bad(string why) => $"{where}: metric '{metric}': {why}";
        if (p.Length < 3 || p.Any(string.IsNullOrWhiteSpace))
            throw new StepDpoException(Bad("expected scope.benchmark.field, e.g. trained.gsm8k.accuracy"));
        string field = p[2];
        if (p[0] == "delta")
        {
            if (field != "accuracy" || p.Length > 3) throw new StepDpoException(Bad("delta has only 'accuracy'"));
        }
        else if (p[0] == "comparison")
        {
            if (!ComparisonFields.Contains(field) || p.Length > 3)
                throw new StepDpoException(Bad($"unknown comparison field '{field}'; known: {string.Join(", ", ComparisonFields)}"));
        }
        else if (!ResultFields.Contains(field))
            throw new StepDpoException(Bad($"unknown field '{field}'; known: {string.Join(", ", ResultFields)}"));
        else if (Keyed.Contains(field) != (p.Length == 4))
            throw new StepDpoException(Bad(Keyed.Contains(field) ? $"'{field}' needs a key, e.g. {field}.1" : "unexpected text after the field"));
    }

    /// <summary>The metric's value, or null when the summary does not have it (model or benchmark not evaluated,
    /// no samples, unknown level).</summary>
    public static double? Resolve(EvalSummary summary, string metric)
    {
        Validate(metric);
        var p = metric.Split('.', 4);
        string scope = p[0], benchmark = p[1], field = p[2];
        if (scope is "delta" or "comparison")
        {
            if (summary.ComparisonFor(benchmark) is not Comparison c) return null;
            return field switch
            {
                "accuracy" or "delta" => c.Delta,
                "mcnemar_p" => c.McNemarP,
                "b_only" => c.BOnly,
                _ => c.AOnly,
            };
        }
        if (summary.Result(scope, benchmark) is not BenchmarkResult r) return null;
        return field switch
        {
            "accuracy" => r.Accuracy,
            "n" => r.N,
            "correct" => r.Correct,
            "ci95_lo" => r.Ci95[0],
            "ci95_hi" => r.Ci95[1],
            "majority_accuracy" => r.MajorityAccuracy,
            "pass_at_k" => r.PassAtK.TryGetValue(p[3], out var v) ? v : null,
            "by_level" => r.ByLevel.TryGetValue(p[3], out var l) ? l.Accuracy : null,
            "by_grader" => r.ByGrader?.TryGetValue(p[3], out var g) == true ? g : null,
            "grader_disagreements" => r.GraderDisagreements,
            _ => r.BySubject.TryGetValue(p[3], out var s) ? s.Accuracy : null,
        };
    }
}
