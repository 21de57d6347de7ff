using StepDpo.Core;
using StepDpo.Core.Manifests;

namespace StepDpo.Stages.Evaluation;

/// <summary>Reads a named metric (see <see cref="MetricNames"/> for the names) from a summary.</summary>
public static class MetricPath
{
    /// <summary>Throws when the name cannot denote any metric (a typo in the manifest), whatever the summary holds.</summary>
    public static void Validate(string metric, string where = "expect")
    {
        if (MetricNames.GrammarProblem(metric) is { } why) throw new StepDpoException($"{where}: metric '{metric}': {why}");
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
            "by_grader" => r.ByGrader is { } g && g.TryGetValue(p[3], out var a) ? a : null,
            "grader_disagreements" => r.GraderDisagreements,
            _ => r.BySubject.TryGetValue(p[3], out var s) ? s.Accuracy : null,
        };
    }
}
