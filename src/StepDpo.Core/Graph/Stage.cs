using StepDpo.Core.Manifests;

namespace StepDpo.Core.Graph;

/// <summary>
/// One cached step of the pipeline. The cache key hashes exactly what <see cref="KeyConfig"/> returns, the keys
/// of the upstream stages, the content of <see cref="ExternalInputs"/> and <see cref="Version"/>; so a stage must put
/// into KeyConfig every manifest value it reads.
/// </summary>
public abstract class Stage
{
    public abstract string Name { get; }

    /// <summary>Bump when a change to the implementation changes what the stage writes.</summary>
    public abstract int Version { get; }

    /// <summary>Upstream stages whose artifacts this stage reads (only enabled ones are passed on).</summary>
    public abstract IReadOnlyList<string> DependsOn(Manifest m);

    /// <summary>Null when the stage runs for this manifest; otherwise why it is skipped.</summary>
    public virtual string? DisabledReason(Manifest m) => null;

    /// <summary>The part of the manifest this stage reads (hashed into its key, stored in stage.json).</summary>
    public abstract object KeyConfig(Manifest m);

    /// <summary>Files or folders read that no stage produces (models, data sets): their content is hashed into the key.</summary>
    public virtual IEnumerable<string> ExternalInputs(Manifest m, Workspace ws) => Array.Empty<string>();

    /// <summary>False for a stage whose implementation has not landed: running it fails before anything is written.</summary>
    public virtual bool IsImplemented => true;

    /// <summary>Writes the stage's outputs into <see cref="StageContext.Dir"/>. A rerun after a kill gets the same
    /// directory back (with whatever was written) and may resume from it.</summary>
    public abstract Task RunAsync(StageContext ctx, CancellationToken ct);
}

/// <summary>A stage that exists in the graph but whose implementation has not landed yet.</summary>
public sealed class PendingStage(string name, string[] dependsOn, Func<Manifest, object> config) : Stage
{
    public override string Name => name;
    public override int Version => 0;
    public override bool IsImplemented => false;
    public override IReadOnlyList<string> DependsOn(Manifest m) => dependsOn;
    public override object KeyConfig(Manifest m) => config(m);
    public override Task RunAsync(StageContext ctx, CancellationToken ct) =>
        throw new StepDpoException($"stage '{name}' is not implemented yet");
}
