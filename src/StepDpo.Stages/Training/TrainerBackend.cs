using StepDpo.Core;
using StepDpo.Core.Graph;
using StepDpo.Core.Manifests;
using StepDpo.Data;

namespace StepDpo.Stages.Training;

/// <summary>A trainer for the train stage (train.backend: local, trl): one class each, found by <see cref="All"/>.
/// Its settings are what it reads of the train section (and whatever else it needs), and train's key holds them.</summary>
public abstract class TrainerBackend
{
    public static readonly Registry<TrainerBackend> All = Registry<TrainerBackend>.Discover("train.backend", b => b.Name);

    public abstract string Name { get; }

    public abstract object Read(ManifestReader<Manifest> m);

    /// <summary>What `stepdpo plan` checks before the trainer runs (see <see cref="ReadinessCheck"/>).</summary>
    public virtual void Check(ReadinessCheck check, object settings, ModelSection model, long seed) { }

    public abstract Task RunAsync(TrainJob job, object settings, CancellationToken ct);
}

/// <summary>One run of the train stage: the pairs and the start model they train.</summary>
/// <param name="StartModel">the stage whose final/ is the start model (else model.path)</param>
public sealed record TrainJob(StageContext Context, long Seed, ModelSection Model, string StartModel, IReadOnlyList<StepDpoPair> Pairs, string PairsFile);
