using StepDpo.Core;
using StepDpo.Core.Graph;
using StepDpo.Core.Manifests;
using StepDpo.Data;
using StepDpo.Data.Synthetic;

namespace StepDpo.Stages.Pool;

/// <summary>
/// The problems a stage works on: the sampling pool of the `data` section, the sft examples, or a benchmark of the
/// `evaluate` section. Synthetic problems are regenerated from the manifest seed (the same manifest gives the same
/// problems in every stage) and keep their arithmetic plan for the `rule` step checker.
/// </summary>
public sealed class ProblemPool
{
    public IReadOnlyList<Problem> Problems { get; }
    readonly Dictionary<string, SyntheticProblem> synthetic;

    ProblemPool(IReadOnlyList<Problem> problems, IEnumerable<SyntheticProblem>? synthetic = null)
    {
        Problems = problems;
        this.synthetic = synthetic?.ToDictionary(p => p.Id) ?? new();
    }

    /// <summary>The generated problem behind <paramref name="id"/>, when the pool is synthetic.</summary>
    public SyntheticProblem? Synthetic(string id) => synthetic.GetValueOrDefault(id);

    public bool IsSynthetic => synthetic.Count > 0;

    /// <summary>The `rule` checker of the synthetic world: 1-based first wrong step of <paramref name="steps"/>, null when
    /// all pass.</summary>
    public int? FirstWrongStep(string problemId, IReadOnlyList<string> steps) =>
        SyntheticWorld.FirstWrongStep(Synthetic(problemId)
            ?? throw new StepDpoException($"problem {problemId} is not in the synthetic pool"), steps);

    /// <summary>Training-split problems: the first `train` are sft examples, the next `pool` are sampled.</summary>
    static IReadOnlyList<SyntheticProblem> TrainSplit(Manifest m)
    {
        var s = m.Data.Synthetic;
        return SyntheticWorld.Generate(s.Train + s.Pool, (int)(StageContext.DeriveSeed(m.Seed, "synthetic/train") & int.MaxValue),
            Options(s, SyntheticSplit.Train));
    }

    static SyntheticOptions Options(SyntheticSection s, SyntheticSplit split) => new()
    {
        MinSteps = s.MinSteps, MaxSteps = s.MaxSteps, MaxStart = s.MaxStart, MaxAddend = s.MaxAddend,
        MaxFactor = s.MaxFactor, MaxValue = s.MaxValue, Split = split,
    };

    static ProblemPool FromSynthetic(IEnumerable<SyntheticProblem> problems, string source)
    {
        var list = problems.ToList();
        return new ProblemPool(list.Select(p => new Problem(p.Id, p.Question, p.Answer, p.Solution, Source: source)).ToList(), list);
    }

    /// <summary>Problems with reference solutions for supervised fine-tuning.</summary>
    public static ProblemPool SftExamples(Manifest m, Workspace ws)
    {
        if (m.Data.Source == "synthetic")
        {
            var demos = FromSynthetic(TrainSplit(m).Take(m.Data.Synthetic.Train), "synthetic");
            double rate = m.Data.Synthetic.ErrorHabit;
            if (rate == 0) return demos;
            // Which demonstrations carry the habit depends on the seed and the problem only (not on the order or count).
            bool Flawed(string id) => (StageContext.DeriveSeed(m.Seed, "error-habit/" + id) & 0xFFFFFF) < rate * 0x1000000;
            return new ProblemPool(demos.Problems.Select(p =>
                Flawed(p.Id) && ErrorHabit.FlawedSolution(demos.synthetic[p.Id]) is string flawed ? p with { Solution = flawed } : p).ToList(),
                demos.synthetic.Values);
        }
        var problems = Load(m.Data.Source, m.Data.Path, m.Data.Limit, m.Data.Fields, ws).Where(p => p.Solution is not null).ToList();
        if (problems.Count == 0) throw new StepDpoException($"sft: data source '{m.Data.Source}' has no reference solutions to train on");
        return new ProblemPool(problems);
    }

    /// <summary>The problems sampled for errors (data section).</summary>
    public static ProblemPool Sampling(Manifest m, Workspace ws)
    {
        if (m.Data.Source == "synthetic")
        {
            var pool = TrainSplit(m).Skip(m.Data.Synthetic.Train);
            return FromSynthetic(m.Data.Limit is int limit ? pool.Take(limit) : pool, "synthetic");
        }
        return new ProblemPool(Load(m.Data.Source, m.Data.Path, m.Data.Limit, m.Data.Fields, ws).ToList());
    }

    /// <summary>A benchmark of the evaluate section.</summary>
    public static ProblemPool Benchmark(BenchmarkSpec b, Manifest m, Workspace ws)
    {
        if (b.Source == "synthetic")
        {
            var s = m.Data.Synthetic;
            var test = SyntheticWorld.Generate(b.Limit ?? s.Test, (int)(StageContext.DeriveSeed(m.Seed, "synthetic/test") & int.MaxValue),
                Options(s, SyntheticSplit.Test));
            return FromSynthetic(test, b.Name);
        }
        return new ProblemPool(Load(b.Source, b.Path, b.Limit, b.Fields.Count > 0 ? b.Fields : null, ws).ToList());
    }

    static IEnumerable<Problem> Load(string source, string? path, int? limit, IReadOnlyDictionary<string, string>? fields, Workspace ws)
    {
        string resolved = path is null ? "" : Path.IsPathRooted(path) || path.StartsWith(DataSources.HubPrefix) ? path : Path.Combine(ws.Root, path);
        return DataSources.Load(new DataSpec(source, resolved, limit, fields));
    }
}
