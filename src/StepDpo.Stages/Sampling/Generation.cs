using System.Text.Json.Serialization;
using StepDpo.Core;
using StepDpo.Core.Graph;
using StepDpo.Core.Manifests;

namespace StepDpo.Stages.Sampling;

/// <summary>How a stage generates from its models: the backend named by its section (sample.backend, also for verify's
/// rollouts and pairs; evaluate.backend) and that backend's settings, as the key holds them.</summary>
public sealed record Generation(string Backend, object Settings)
{
    /// <summary>The backend and its settings from a generating section (<c>m.Section&lt;IGenerationSection&gt;(x => x.Sample)</c>).</summary>
    public static Generation Read(ManifestReader<IGenerationSection> section)
    {
        var backend = GenerationBackend.All[section.Get(x => x.Backend)];
        return new Generation(backend.Name, backend.Read(section));
    }

    /// <summary>A sampler of the model in <paramref name="modelDir"/> (<paramref name="role"/>: start or trained; a
    /// server someone else runs is asked for the role's served name instead); dispose it to free the model or stop
    /// the server.</summary>
    public Task<ISampler> OpenAsync(ModelSection model, string modelDir, string role, StageContext ctx, CancellationToken ct) =>
        GenerationBackend.All[Backend].OpenAsync(Settings, model, modelDir, role, ctx, ct);

    /// <summary>Whether the backend runs the models itself (then the stage needs their folders).</summary>
    [JsonIgnore] public bool NeedsModelFolders => GenerationBackend.All[Backend].NeedsModelFolders;
}

/// <summary>A generation backend (local, openai, vllm, sglang): one class each, found by <see cref="All"/>; its
/// settings are its part of the key of every stage that generates with it.</summary>
public abstract class GenerationBackend
{
    public static readonly Registry<GenerationBackend> All = Registry<GenerationBackend>.Discover("generation backend", b => b.Name);

    public abstract string Name { get; }

    public virtual bool NeedsModelFolders => true;

    /// <summary>This backend's settings from the section that names it (keys it reads go into the stage's key; transport
    /// settings such as concurrency and timeouts are read outside it).</summary>
    public abstract object Read(ManifestReader<IGenerationSection> section);

    public abstract Task<ISampler> OpenAsync(object settings, ModelSection model, string modelDir, string role, StageContext ctx, CancellationToken ct);

    /// <summary>Reports finished sequences of a sampling call to a progress bar.</summary>
    public static Action<int> To(IProgressTask task) => n => task.Increment(n);
}
