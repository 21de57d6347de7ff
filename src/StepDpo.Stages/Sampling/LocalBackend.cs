using StepDpo.Core.Graph;
using StepDpo.Core.Manifests;
using StepDpo.Stages.Models;

namespace StepDpo.Stages.Sampling;

/// <summary>`local`: the TorchSharp engine in the stage's process, batch_size prompts at a time (the batch decides the
/// padding, hence the rounding, so it is keyed).</summary>
public sealed class LocalBackend : GenerationBackend
{
    public override string Name => "local";

    public sealed record Settings(int BatchSize);

    public override object Read(ManifestReader<IGenerationSection> section) => new Settings(section.Get(x => x.BatchSize));

    public override Task<ISampler> OpenAsync(object settings, ModelSection model, string modelDir, string role, StageContext ctx, CancellationToken ct) =>
        Task.FromResult(Open(modelDir, model.Dtype, model.Device, ((Settings)settings).BatchSize));

    /// <param name="device">model.device: where the engine runs the model</param>
    public static ISampler Open(string modelDir, string dtype, string device, int batchSize)
    {
        var (m, tokenizer) = ModelStore.Load(modelDir, dtype, device);
        return new LocalSampler(m, tokenizer, batchSize);
    }
}
