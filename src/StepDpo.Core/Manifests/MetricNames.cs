namespace StepDpo.Core.Manifests;

/// <summary>
/// The names of the metrics the evaluate stage writes (summary.json), "scope.benchmark.field":
///   {start|trained}.{benchmark}.accuracy | n | correct | ci95_lo | ci95_hi | majority_accuracy | pass_at_k.{k}
///                                     | by_level.{level} | by_subject.{subject}
///                                     | by_grader.{configured|stepdpo|deepseekmath} | grader_disagreements
///   delta.{benchmark}.accuracy                           (trained minus start, paired)
///   comparison.{benchmark}.delta | mcnemar_p | b_only | a_only
/// `expect` keys name one of these; the manifest checks them before anything runs, the expect gate when it reads them.
/// Benchmark names must not contain dots; level and subject keys may (everything after the field).
/// </summary>
public static class MetricNames
{
    /// <summary>The models the evaluate stage scores: the start model and the Step-DPO-trained one.</summary>
    public static readonly string[] Models = ["start", "trained"];
    public static readonly string[] ResultFields = ["accuracy", "n", "correct", "ci95_lo", "ci95_hi", "majority_accuracy", "pass_at_k", "by_level", "by_subject", "by_grader", "grader_disagreements"];
    public static readonly string[] ComparisonFields = ["delta", "mcnemar_p", "b_only", "a_only"];
    static readonly string[] Keyed = ["pass_at_k", "by_level", "by_subject", "by_grader"];

    /// <summary>Why <paramref name="metric"/> cannot name any metric whatever the summary holds (a typo), or null.</summary>
    public static string? GrammarProblem(string metric)
    {
        var p = metric.Split('.', 4);
        if (p.Length < 3 || p.Any(string.IsNullOrWhiteSpace)) return "expected scope.benchmark.field, e.g. trained.gsm8k.accuracy";
        string field = p[2];
        if (p[0] == "delta")
            return field != "accuracy" || p.Length > 3 ? "delta has only 'accuracy'" : null;
        if (p[0] == "comparison")
            return !ComparisonFields.Contains(field) || p.Length > 3
                ? $"unknown comparison field '{field}'; known: {string.Join(", ", ComparisonFields)}" : null;
        if (!ResultFields.Contains(field)) return $"unknown field '{field}'; known: {string.Join(", ", ResultFields)}";
        if (Keyed.Contains(field) != (p.Length == 4))
            return Keyed.Contains(field) ? $"'{field}' needs a key, e.g. {field}.1" : "unexpected text after the field";
        return null;
    }

    /// <summary>Why the evaluation that <paramref name="evaluate"/> describes will not produce <paramref name="metric"/>,
    /// or null: an unknown model, a benchmark it does not run, pass@k or a majority vote it does not sample for.</summary>
    public static string? Problem(string metric, EvaluateSection evaluate)
    {
        if (GrammarProblem(metric) is { } grammar) return grammar;
        var p = metric.Split('.', 4);
        if (p[0] is not ("delta" or "comparison") && !Models.Contains(p[0]))
            return $"no stage produces model '{p[0]}': the evaluation scores {string.Join(" and ", Models)} (and delta, comparison)";
        var names = evaluate.Benchmarks.Select(b => b.Name).ToList();
        if (!names.Contains(p[1]))
            return $"evaluate.benchmarks has no benchmark '{p[1]}'" + (names.Count == 0 ? "" : $" (it has: {string.Join(", ", names)})");
        if (p[2] == "majority_accuracy" && evaluate.N < 2)
            return $"a majority vote needs evaluate.n > 1 (it is {evaluate.N})";
        if (p[2] == "pass_at_k")
        {
            var reported = PassAtK(evaluate.N);
            if (!int.TryParse(p[3], out int k) || !reported.Contains(k))
                return reported.Count == 0
                    ? $"pass@k needs evaluate.n > 1 (it is {evaluate.N})"
                    : $"pass@k is reported for k = {string.Join(", ", reported)} (powers of two up to evaluate.n = {evaluate.N}, at most 128)";
        }
        return null;
    }

    /// <summary>The k the evaluation reports pass@k for with <paramref name="n"/> samples per problem: powers of two
    /// up to n, at most 128.</summary>
    public static IReadOnlyList<int> PassAtK(int n) =>
        n < 2 ? [] : Enumerable.Range(0, 8).Select(i => 1 << i).Where(k => k <= n).ToList();
}
