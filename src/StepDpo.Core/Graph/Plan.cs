using System.Text.Json;
using System.Text.Json.Serialization;

namespace StepDpo.Core.Graph;

[JsonConverter(typeof(JsonStringEnumConverter<StageStatus>))]
public enum StageStatus
{
    /// <summary>A complete artifact exists for the current key: the stage will be skipped.</summary>
    [JsonStringEnumMemberName("cached")] Cached,
    /// <summary>A complete artifact exists, but for other inputs (the reason says which changed).</summary>
    [JsonStringEnumMemberName("stale")] Stale,
    /// <summary>Never run for this experiment (or only a killed, partial run exists).</summary>
    [JsonStringEnumMemberName("missing")] Missing,
    /// <summary>Not part of this experiment (e.g. no sft section, or pairs.from skips data construction).</summary>
    [JsonStringEnumMemberName("disabled")] Disabled,
}

/// <summary>Everything a stage's cache key is made of; stored in stage.json so a later plan can say what changed.</summary>
public sealed record KeyInputs(
    string Stage,
    int Version,
    JsonElement Config,
    SortedDictionary<string, string> Upstream,
    SortedDictionary<string, string> Files);

public sealed record PlannedStage(
    string Name,
    string? Key,
    StageStatus Status,
    string Reason,
    string? Dir,
    IReadOnlyList<string> Upstream,
    [property: JsonIgnore] KeyInputs? Inputs)
{
    /// <summary>The stage's slice of the manifest (what its key hashes and all it is given of the manifest).</summary>
    [JsonIgnore] public object? Slice { get; init; }
    /// <summary>The manifest keys the stage read into its key, including those that decide whether it runs and what it
    /// depends on ("" is the whole manifest).</summary>
    [JsonIgnore] public IReadOnlyCollection<string> Reads { get; init; } = [];
    /// <summary>The manifest keys it read outside its key (where and how fast, not what, it computes).</summary>
    [JsonIgnore] public IReadOnlyCollection<string> UnkeyedReads { get; init; } = [];
}

public sealed record Plan(string Experiment, IReadOnlyList<PlannedStage> Stages)
{
    public PlannedStage this[string name] => Stages.First(s => s.Name == name);
}
