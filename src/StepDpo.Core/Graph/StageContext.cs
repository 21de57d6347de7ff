using System.Security.Cryptography;
using System.Text;

namespace StepDpo.Core.Graph;

/// <summary>What a running stage sees besides its slice of the manifest: its working directory, the artifacts
/// upstream, and where to put counters (written to stage.json) and metrics (exported to MSBuild and the `expect` gate).</summary>
public sealed class StageContext
{
    public required Workspace Workspace { get; init; }
    public required string StageName { get; init; }
    public required string Key { get; init; }
    /// <summary>The stage's working directory; renamed to its final name only after the stage returns.</summary>
    public required string Dir { get; init; }
    public required IReadOnlyDictionary<string, string> UpstreamDirs { get; init; }
    public required IProgressReporter Progress { get; init; }

    /// <summary>Numbers for stage.json: counts of the data funnel, timings.</summary>
    public Dictionary<string, object> Counters { get; } = new();
    /// <summary>Named metrics (e.g. trained.gsm8k.accuracy) for the gate and the MSBuild task outputs.</summary>
    public Dictionary<string, double> Metrics { get; } = new();

    public string Upstream(string stage) => UpstreamDirs.TryGetValue(stage, out var d)
        ? d : throw new StepDpoException($"stage '{StageName}' needs the output of '{stage}', which is not part of this run");

    public string File(string name) => Path.Combine(Dir, name);

    /// <summary>A seed for one purpose, derived from the manifest seed (which the stage reads into its slice), so stages
    /// never share random streams.</summary>
    public long Seed(long manifestSeed, string purpose) => DeriveSeed(manifestSeed, $"{StageName}/{purpose}");

    public static long DeriveSeed(long seed, string purpose)
    {
        var h = SHA256.HashData(Encoding.UTF8.GetBytes($"{seed}:{purpose}"));
        return BitConverter.ToInt64(h, 0) & long.MaxValue;
    }
}
