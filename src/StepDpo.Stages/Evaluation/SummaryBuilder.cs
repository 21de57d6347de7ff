using StepDpo.Core;

namespace StepDpo.Stages.Evaluation;

/// <summary>Builds <see cref="EvalSummary"/> from per-problem outcomes. Results keep the order in which
/// benchmarks and models were first added, so the same outcomes always give the same summary.json.</summary>
public sealed class SummaryBuilder
{
    public const string StartModel = "start";
    public const string TrainedModel = "trained";

    private readonly Dictionary<(string Model, string Benchmark), Dictionary<string, ProblemOutcome>> outcomes = [];
    private readonly Dictionary<(string Model, string Benchmark), Dictionary<string, (int N, int C, bool? Majority)>> samples = [];
    private readonly List<string> benchmarks = [], models = [];
    private int[] ks = [1];

    /// <summary>Adds one greedy outcome; the same (model, benchmark, problem) twice is an error because it
    /// would silently count a problem twice.</summary>
    public SummaryBuilder Add(ProblemOutcome o)
    {
        Remember(o.Model, o.Benchmark);
        var perProblem = Slot(this.outcomes, o.Model, o.Benchmark);
        if (!perProblem.TryAdd(o.ProblemId, o))
            throw new StepDpoException($"evaluation: problem '{o.ProblemId}' of benchmark '{o.Benchmark}' graded twice for model '{o.Model}'");
        return this;
    }

    public SummaryBuilder AddRange(IEnumerable<ProblemOutcome> outcomes)
    {
        foreach (var o in outcomes) Add(o);
        return this;
    }

    /// <summary>Adds the sampled (non-greedy) answers of one problem: how many samples, how many correct,
    /// and whether their majority answer was correct (null when majority voting was not done).</summary>
    public SummaryBuilder AddSamples(string model, string benchmark, string problemId, int samples, int correctSamples, bool? majorityCorrect = null)
    {
        if (samples < 1 || correctSamples < 0 || correctSamples > samples)
            throw new StepDpoException($"evaluation: problem '{problemId}' of '{benchmark}': {correctSamples} correct of {samples} samples is impossible");
        Remember(model, benchmark);
        if (!Slot(this.samples, model, benchmark).TryAdd(problemId, (samples, correctSamples, majorityCorrect)))
            throw new StepDpoException($"evaluation: samples of problem '{problemId}' of benchmark '{benchmark}' added twice for model '{model}'");
        return this;
    }

    /// <summary>Which k to report pass@k for (default 1); a k larger than some problem's sample count is skipped.</summary>
    public SummaryBuilder WithPassAtK(params int[] ks)
    {
        if (ks.Any(k => k < 1)) throw new StepDpoException($"evaluation: pass@k needs k >= 1 (got {string.Join(", ", ks)})");
        this.ks = ks.Distinct().Order().ToArray();
        return this;
    }

    public EvalSummary Build()
    {
        var results = new List<BenchmarkResult>();
        foreach (var benchmark in this.benchmarks)
            foreach (var model in this.models)
                if (this.outcomes.ContainsKey((model, benchmark)) || this.samples.ContainsKey((model, benchmark)))
                    results.Add(Result(model, benchmark));
        var comparisons = this.benchmarks
            .Where(b => this.outcomes.ContainsKey((StartModel, b)) && this.outcomes.ContainsKey((TrainedModel, b)))
            .Select(b => Compare(StartModel, TrainedModel, b))
            .ToList();
        return new EvalSummary(results, comparisons);
    }

    private BenchmarkResult Result(string model, string benchmark)
    {
        var outcomes = this.outcomes.GetValueOrDefault((model, benchmark))?.Values.ToList() ?? [];
        int n = outcomes.Count, correct = outcomes.Count(o => o.Correct);
        var (lo, hi) = EvalStats.Wilson(correct, n);
        var samples = this.samples.GetValueOrDefault((model, benchmark))?.Values.ToList() ?? [];
        var passAtK = new SortedDictionary<string, double>(Comparer<string>.Create((x, y) => int.Parse(x).CompareTo(int.Parse(y))));
        if (samples.Count > 0)
            foreach (int k in this.ks.Where(k => samples.All(s => s.N >= k)))
                passAtK[k.ToString()] = samples.Average(s => EvalStats.PassAtK(s.N, s.C, k));
        var voted = samples.Where(s => s.Majority is not null).ToList();
        var graders = outcomes.Where(o => o.ByGrader is not null).SelectMany(o => o.ByGrader!.Keys).Distinct().ToList();
        var byGrader = graders.ToDictionary(g => g, g => n == 0 ? 0 : outcomes.Count(o => o.ByGrader?.GetValueOrDefault(g) == true) / (double)n);
        int disagreements = outcomes.Count(o => o.ByGrader is { Count: > 1 } v && v.Values.Distinct().Count() > 1);
        return new BenchmarkResult(model, benchmark,
            Accuracy: n == 0 ? 0 : (double)correct / n, N: n, Correct: correct, Ci95: [lo, hi],
            ByLevel: GroupAccuracy.Compute(outcomes, o => o.Level, o => o.Correct),
            BySubject: GroupAccuracy.Compute(outcomes, o => o.Subject, o => o.Correct),
            PassAtK: passAtK,
            MajorityAccuracy: voted.Count == 0 ? null : voted.Count(s => s.Majority == true) / (double)voted.Count,
            ByGrader: byGrader.Count == 0 ? null : byGrader, GraderDisagreements: disagreements);
    }

    /// <summary>Paired comparison; both models must have been graded on exactly the same problems,
    /// otherwise the McNemar test (and the delta) would compare different things.</summary>
    private Comparison Compare(string a, string b, string benchmark)
    {
        var first = this.outcomes[(a, benchmark)];
        var second = this.outcomes[(b, benchmark)];
        string? onlyA = first.Keys.FirstOrDefault(id => !second.ContainsKey(id));
        string? onlyB = second.Keys.FirstOrDefault(id => !first.ContainsKey(id));
        if (onlyA is not null || onlyB is not null)
            throw new StepDpoException(
                $"evaluation: benchmark '{benchmark}': models '{a}' and '{b}' were graded on different problems " +
                (onlyA is not null ? $"('{onlyA}' only for '{a}')" : $"('{onlyB}' only for '{b}')") +
                "; a paired comparison needs the same problems");
        int bOnly = 0, aOnly = 0;
        foreach (var (id, oa) in first)
        {
            bool rightA = oa.Correct, rightB = second[id].Correct;
            if (rightB && !rightA) bOnly++;
            if (rightA && !rightB) aOnly++;
        }
        double delta = first.Count == 0 ? 0 : (double)(bOnly - aOnly) / first.Count;
        return new Comparison(a, b, benchmark, delta, EvalStats.McNemarExactP(bOnly, aOnly), bOnly, aOnly);
    }

    private void Remember(string model, string benchmark)
    {
        if (string.IsNullOrWhiteSpace(model) || string.IsNullOrWhiteSpace(benchmark))
            throw new StepDpoException("evaluation: model and benchmark names must not be empty");
        if (!this.models.Contains(model)) this.models.Add(model);
        if (!this.benchmarks.Contains(benchmark)) this.benchmarks.Add(benchmark);
    }

    private static Dictionary<string, T> Slot<T>(Dictionary<(string, string), Dictionary<string, T>> map, string model, string benchmark)
    {
        if (!map.TryGetValue((model, benchmark), out var slot)) map[(model, benchmark)] = slot = new Dictionary<string, T>(StringComparer.Ordinal);
        return slot;
    }
}
