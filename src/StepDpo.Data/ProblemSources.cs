using StepDpo.Core;

namespace StepDpo.Data;

/// <summary>A named problem file format (data.source, evaluate.benchmarks[].source, `stepdpo data`): one class each,
/// listed in <see cref="ProblemSources.All"/>. The synthetic world and imported samples are not files of problems
/// and are read by the stages themselves.</summary>
public abstract class ProblemSource
{
    public abstract string Name { get; }

    /// <summary>The machine's shared copy (relative to shared/data) read when the manifest names no path, or null.</summary>
    public virtual string? SharedFile => null;

    public abstract IEnumerable<Problem> Load(string path, IReadOnlyDictionary<string, string>? fields);
}

public static class ProblemSources
{
    public static readonly Registry<ProblemSource> All = new("data source",
        [
            new Gsm8kSource(), new MathSource("math"), new MathSource("math500"), new JsonlSource(), new StepDpoPairsSource(),
            .. QwenEvalLoader.Sets.Select(set => new QwenEvalSource(set)),
        ],
        s => s.Name);
}

/// <summary>GSM8K: the HF layout (answer after "####") or the Step-DPO reference's test file.</summary>
public sealed class Gsm8kSource : ProblemSource
{
    public override string Name => "gsm8k";
    public override string? SharedFile => Path.Combine("gsm8k", "test.jsonl");
    public override IEnumerable<Problem> Load(string path, IReadOnlyDictionary<string, string>? fields) => Gsm8kLoader.Load(path);
}

/// <summary>MATH (a folder tree or JSONL) and MATH-500: the gold answer is the reference solution's last \boxed{}.</summary>
public sealed class MathSource(string name) : ProblemSource
{
    public override string Name => name;
    public override string? SharedFile => name == "math500" ? Path.Combine("math500", "test.jsonl") : null;
    public override IEnumerable<Problem> Load(string path, IReadOnlyDictionary<string, string>? fields) => MathLoader.Load(path, name);
}

/// <summary>One set of the Qwen2.5-Math evaluation suite, in that suite's own layout.</summary>
public sealed class QwenEvalSource(string set) : ProblemSource
{
    public override string Name => "qwen25:" + set;
    public override string? SharedFile => Path.Combine("qwen25-math-eval", set, "test.jsonl");
    public override IEnumerable<Problem> Load(string path, IReadOnlyDictionary<string, string>? fields) => QwenEvalLoader.Load(path, set);
}

/// <summary>Any JSONL file, its field names mapped by `fields`.</summary>
public sealed class JsonlSource : ProblemSource
{
    public override string Name => "jsonl";
    public override IEnumerable<Problem> Load(string path, IReadOnlyDictionary<string, string>? fields) => MappedJsonlLoader.Load(path, fields);
}

/// <summary>A Step-DPO pair file read as problems: its prompts, gold answers and chosen solutions.</summary>
public sealed class StepDpoPairsSource : ProblemSource
{
    public override string Name => "stepdpo-pairs";
    public override IEnumerable<Problem> Load(string path, IReadOnlyDictionary<string, string>? fields) => PairFile.Read(path).Select((p, i) =>
        new Problem($"pair-{i}", p.Prompt, p.Answer, p.FullChosen, Subject: p.Dataset, Source: Name));
}
