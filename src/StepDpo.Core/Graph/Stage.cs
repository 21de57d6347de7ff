using StepDpo.Core.Manifests;

namespace StepDpo.Core.Graph;

/// <summary>
/// One cached step of the pipeline, as the graph sees it. Implementations derive from <see cref="Stage{TInput}"/>:
/// the cache key hashes the stage's slice of the manifest, the keys of the upstream stages, the content of the files it
/// reads and <see cref="Version"/>, and the stage sees nothing of the manifest but its slice.
/// </summary>
public abstract class Stage
{
    private protected Stage() { }

    public abstract string Name { get; }

    /// <summary>Bump when a change to the implementation changes what the stage writes.</summary>
    public abstract int Version { get; }

    /// <summary>Upstream stages whose artifacts this stage reads (only enabled ones are passed on, and keyed).</summary>
    public abstract IReadOnlyList<string> DependsOn(ManifestReader<Manifest> m);

    /// <summary>Null when the stage runs for this manifest; otherwise why it is skipped.</summary>
    public virtual string? DisabledReason(ManifestReader<Manifest> m) => null;

    internal abstract object Slice(ManifestReader<Manifest> m);
    internal abstract IEnumerable<string> ExternalInputs(object slice, Workspace ws);
    internal abstract Task Execute(StageContext ctx, object slice, CancellationToken ct);
}

/// <summary>A stage that reads <typeparamref name="TInput"/>: its slice of the manifest (its own options and the
/// shared values it names), built by <see cref="Read"/> through a recording <see cref="ManifestReader{T}"/>. The slice
/// is what the key hashes (its JSON; properties marked [JsonIgnore] hold what <see cref="ManifestReader{T}.GetUnkeyed"/>
/// read) and all that <see cref="RunAsync"/> is given of the manifest, so a stage cannot read a value its key misses.</summary>
public abstract class Stage<TInput> : Stage where TInput : notnull
{
    protected abstract TInput Read(ManifestReader<Manifest> m);

    /// <summary>Files or folders read that no stage produces (models, data sets): their content is hashed into the key.</summary>
    protected virtual IEnumerable<string> Files(TInput input, Workspace ws) => [];

    /// <summary>Writes the stage's outputs into <see cref="StageContext.Dir"/>. A rerun after a kill gets the same
    /// directory back (with whatever was written) and may resume from it.</summary>
    protected abstract Task RunAsync(StageContext ctx, TInput input, CancellationToken ct);

    internal sealed override object Slice(ManifestReader<Manifest> m) => Read(m);
    internal sealed override IEnumerable<string> ExternalInputs(object slice, Workspace ws) => Files((TInput)slice, ws);
    internal sealed override Task Execute(StageContext ctx, object slice, CancellationToken ct) => RunAsync(ctx, (TInput)slice, ct);
}
