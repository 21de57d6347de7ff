using System.Text.Json.Serialization;
using StepDpo.Answers;
using StepDpo.Core.Graph;
using StepDpo.Core.Manifests;
using StepDpo.Torch.Devices;

namespace StepDpo.Stages;

/// <summary>
/// The shared values a stage can name in its slice (besides its own section): each is read through the stage's
/// <see cref="ManifestReader{T}"/>, so naming one puts exactly the keys it reads into the stage's key.
/// </summary>
public static class Slices
{
    /// <summary>cpu or cuda: the kind of device model.device resolves to here. The numbers a stage computes depend on
    /// it, so `auto` on a GPU machine and on a CPU machine are different keys.</summary>
    public static string DeviceKind(ManifestReader<Manifest> m) => DeviceSpec.Kind(m.Get(x => x.Model.Device));

    /// <summary>evaluate.grader with the version of its verdicts (a grader fix regrades what was graded before).</summary>
    public static GraderKey Grader(ManifestReader<Manifest> m)
    {
        var grader = Grading.Get(m.Get(x => x.Evaluate.Grader));
        return new GraderKey(grader.Name, grader.Version);
    }

    /// <summary>The problems sampled for errors (data section): for the synthetic world its training split after the sft
    /// examples and its shapes, not the test size or the error habit, so resizing those keeps samples cached.</summary>
    public static DataSlice Pool(ManifestReader<Manifest> m)
    {
        var d = m.Section(x => x.Data);
        string source = d.Get(x => x.Source);
        if (source != "synthetic") return Files(d, source);
        var s = d.Section(x => x.Synthetic);
        return new DataSlice(source, World(s) with { Train = s.Get(x => x.Train), Pool = s.Get(x => x.Pool) }, Limit: d.Get(x => x.Limit));
    }

    /// <summary>The problems sft trains on: for the synthetic world its training split and the error habit, not the
    /// pool or the test size, so resizing those keeps the trained model cached.</summary>
    public static DataSlice SftExamples(ManifestReader<Manifest> m)
    {
        var d = m.Section(x => x.Data);
        string source = d.Get(x => x.Source);
        if (source != "synthetic") return Files(d, source);
        var s = d.Section(x => x.Synthetic);
        return new DataSlice(source, World(s) with { Train = s.Get(x => x.Train), ErrorHabit = s.Get(x => x.ErrorHabit) });
    }

    /// <summary>The held-out split of the synthetic world that a synthetic benchmark is drawn from.</summary>
    public static SyntheticSlice TestSplit(ManifestReader<Manifest> m)
    {
        var s = m.Section(x => x.Data.Synthetic);
        return World(s) with { Test = s.Get(x => x.Test) };
    }

    static DataSlice Files(ManifestReader<DataSection> d, string source) =>
        new(source, Path: d.Get(x => x.Path), Limit: d.Get(x => x.Limit), Fields: d.Get(x => x.Fields));

    static SyntheticSlice World(ManifestReader<SyntheticSection> s) => new(s.Get(x => x.MinSteps), s.Get(x => x.MaxSteps),
        s.Get(x => x.MaxStart), s.Get(x => x.MaxAddend), s.Get(x => x.MaxFactor), s.Get(x => x.MaxValue));
}

public sealed record GraderKey(string Name, int Version);

/// <summary>A set of problems as a stage's key holds it: a file source with its path, limit and field mapping, or the
/// synthetic world with the parts of data.synthetic it is generated from (with the manifest seed).</summary>
public sealed record DataSlice(
    string Source,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] SyntheticSlice? Synthetic = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Path = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? Limit = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Dictionary<string, string>? Fields = null);

/// <summary>The synthetic world's shapes and the split sizes a slice reads (the others stay null, out of the key).</summary>
public sealed record SyntheticSlice(int MinSteps, int MaxSteps, int MaxStart, int MaxAddend, int MaxFactor, int MaxValue)
{
    // Declared first: keys list train before the shapes, as they always have.
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull), JsonPropertyOrder(-3)] public int? Train { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull), JsonPropertyOrder(-2)] public int? Pool { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull), JsonPropertyOrder(-1)] public int? Test { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull), JsonPropertyOrder(1)] public double? ErrorHabit { get; init; }
}
