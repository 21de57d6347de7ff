using StepDpo.Core;
using StepDpo.Core.Graph;
using StepDpo.Data;
using StepDpo.Data.Synthetic;

namespace StepDpo.Stages.Pool;

/// <summary>
/// The problems a stage works on: the sampling pool of the `data` section, the sft examples, or a benchmark of the
/// `evaluate` section, each from the slice the stage read (<see cref="Slices"/>). Synthetic problems are regenerated
/// from the manifest seed (the same manifest gives the same problems in every stage) and keep their arithmetic plan for
/// the `rule` step checker.
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
    static IReadOnlyList<SyntheticProblem> TrainSplit(long seed, SyntheticSlice s, int count) =>
        SyntheticWorld.Generate(count, (int)(StageContext.DeriveSeed(seed, "synthetic/train") & int.MaxValue), Options(s, SyntheticSplit.Train));

    static SyntheticOptions Options(SyntheticSlice s, SyntheticSplit split) => new()
    {
        MinSteps = s.MinSteps, MaxSteps = s.MaxSteps, MaxStart = s.MaxStart, MaxAddend = s.MaxAddend,
        MaxFactor = s.MaxFactor, MaxValue = s.MaxValue, Split = split,
    };

    static ProblemPool FromSynthetic(IEnumerable<SyntheticProblem> problems, string source)
    {
        var list = problems.ToList();
        return new ProblemPool(list.Select(p => new Problem(p.Id, p.Question, p.Answer, p.Solution, Source: source)).ToList(), list);
    }

    /// <summary>Problems with reference solutions for supervised fine-tuning (<see cref="Slices.SftExamples"/>).</summary>
    public static ProblemPool SftExamples(long seed, DataSlice data, Workspace ws)
    {
        if (data.Synthetic is { } s)
        {
            int train = s.Train!.Value;
            var demos = FromSynthetic(TrainSplit(seed, s, train), "synthetic");
            double rate = s.ErrorHabit ?? 0;
            if (rate == 0) return demos;
            // Which demonstrations carry the habit depends on the seed and the problem only (not on the order or count).
            bool Flawed(string id) => (StageContext.DeriveSeed(seed, "error-habit/" + id) & 0xFFFFFF) < rate * 0x1000000;
            return new ProblemPool(demos.Problems.Select(p =>
                Flawed(p.Id) && ErrorHabit.FlawedSolution(demos.synthetic[p.Id]) is string flawed ? p with { Solution = flawed } : p).ToList(),
                demos.synthetic.Values);
        }
        var problems = Load(data, ws).Where(p => p.Solution is not null).ToList();
        if (problems.Count == 0) throw new StepDpoException($"sft: data source '{data.Source}' has no reference solutions to train on");
        return new ProblemPool(problems);
    }

    /// <summary>The problems sampled for errors (<see cref="Slices.Pool"/>).</summary>
    public static ProblemPool Sampling(long seed, DataSlice data, Workspace ws)
    {
        if (data.Synthetic is { } s)
        {
            var pool = TrainSplit(seed, s, s.Train!.Value + s.Pool!.Value).Skip(s.Train.Value);
            return FromSynthetic(data.Limit is int limit ? pool.Take(limit) : pool, "synthetic");
        }
        return new ProblemPool(Load(data, ws).ToList());
    }

    /// <summary>A benchmark of the evaluate section: a file source, or the synthetic world's held-out split.</summary>
    public static ProblemPool Benchmark(long seed, BenchmarkSlice b, Workspace ws)
    {
        if (b.TestSplit is { } s)
        {
            var test = SyntheticWorld.Generate(b.Limit ?? s.Test!.Value, (int)(StageContext.DeriveSeed(seed, "synthetic/test") & int.MaxValue),
                Options(s, SyntheticSplit.Test));
            return FromSynthetic(test, b.Name);
        }
        return new ProblemPool(Load(new DataSlice(b.Source, Path: b.Path, Limit: b.Limit, Fields: b.Fields.Count > 0 ? b.Fields : null), ws).ToList());
    }

    static IEnumerable<Problem> Load(DataSlice data, Workspace ws) =>
        DataSources.Load(new DataSpec(data.Source, ResolvePath(data.Path, ws), data.Limit, data.Fields));

    /// <summary>A path of the manifest as the stages read it: relative to the workspace root (hub paths as they are).</summary>
    public static string ResolvePath(string? path, Workspace ws) =>
        path is null ? "" : System.IO.Path.IsPathRooted(path) || path.StartsWith(DataSources.HubPrefix) ? path : System.IO.Path.Combine(ws.Root, path);
}

/// <summary>One benchmark of the evaluate section as its key holds it; a synthetic one carries the test split it is
/// drawn from.</summary>
public sealed record BenchmarkSlice(string Name, string Source, string? Path, int? Limit, Dictionary<string, string> Fields,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    SyntheticSlice? TestSplit = null);
