using System.Text.Json;
using System.Text.Json.Nodes;
using StepDpo.Core.Graph;
using StepDpo.Core.Manifests;

namespace StepDpo.Core.Artifacts;

/// <summary>stage.json: the proof that a stage finished, and everything needed to know how its artifact was made.</summary>
public sealed class StageRecord
{
    public const string FileName = "stage.json";

    public required string Stage { get; init; }
    public required string Experiment { get; init; }
    public required string Key { get; init; }
    public required int Version { get; init; }
    public required KeyInputs Inputs { get; init; }
    public required JsonElement Manifest { get; init; }
    public required IReadOnlyList<string> ManifestFiles { get; init; }
    public required IReadOnlyList<string> Overrides { get; init; }
    public required DateTimeOffset Started { get; init; }
    public required DateTimeOffset Finished { get; init; }
    public double DurationSeconds => Math.Round((Finished - Started).TotalSeconds, 3);
    public required string ToolVersion { get; init; }
    public required string GitCommit { get; init; }
    public required object Machine { get; init; }
    public required IReadOnlyDictionary<string, object> Counters { get; init; }
    public required IReadOnlyDictionary<string, double> Metrics { get; init; }
    public required IReadOnlyList<OutputFile> Outputs { get; init; }

    public sealed record OutputFile(string Path, long Bytes);

    public string ToJson() => JsonSerializer.Serialize(this, ManifestWriter.JsonIndented);

    /// <summary>Reads the parts a plan needs; null when the file is missing or unreadable (then the artifact is not complete).</summary>
    public static JsonNode? TryRead(string dir)
    {
        string path = System.IO.Path.Combine(dir, FileName);
        if (!File.Exists(path)) return null;
        try { return JsonNode.Parse(File.ReadAllText(path)); }
        catch (JsonException) { return null; }
    }

    public static IReadOnlyList<OutputFile> ListOutputs(string dir) =>
        Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories)
            .Select(f => new OutputFile(System.IO.Path.GetRelativePath(dir, f).Replace('\\', '/'), new FileInfo(f).Length))
            .Where(o => o.Path != FileName)
            .OrderBy(o => o.Path, StringComparer.Ordinal)
            .ToList();
}
