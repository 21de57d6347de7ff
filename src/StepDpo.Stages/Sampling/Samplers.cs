using StepDpo.Core.Graph;
using StepDpo.Core.Manifests;
using StepDpo.Stages.Backends;
using StepDpo.Stages.Models;

namespace StepDpo.Stages.Sampling;

/// <summary>Builds the sampler a manifest section asks for.</summary>
public static class Samplers
{
    /// <param name="modelDir">the checkpoint for the local backend</param>
    /// <param name="servedModel">the model name on the server for the openai backend</param>
    /// <param name="device">model.device: where the local backend runs the model</param>
    public static ISampler Create(string backend, EndpointSection endpoint, string modelDir, string servedModel, string dtype,
        string device, int batchSize)
    {
        if (backend == "openai")
        {
            var options = new OpenAiOptions
            {
                BaseUrl = new Uri(endpoint.BaseUrl),
                Model = endpoint.Model ?? servedModel,
                ApiKeyEnvironmentVariable = endpoint.ApiKeyEnv,
                MaxConcurrency = endpoint.Concurrency,
                RequestTimeout = TimeSpan.FromSeconds(endpoint.TimeoutSeconds),
                MaxAttempts = endpoint.MaxRetries + 1,
            };
            return new RemoteSampler(new OpenAiCompletionsBackend(options), endpoint.Concurrency);
        }
        var (model, tokenizer) = ModelStore.Load(modelDir, dtype, device);
        return new LocalSampler(model, tokenizer, batchSize);
    }

    /// <summary>The start model as a sampler for a stage (sample, verify, pairs use the same model: in-distribution).</summary>
    public static ISampler ForStartModel(StageContext ctx, string backend, EndpointSection endpoint, int batchSize)
    {
        var m = ctx.Manifest;
        string dir = backend == "local" ? ModelStore.StartModelDir(ctx) : "";
        return Create(backend, endpoint, dir, m.Model.Path ?? m.Name, m.Model.Dtype, m.Model.Device, batchSize);
    }

    /// <summary>Reports finished sequences of a sampling call to a progress bar.</summary>
    public static Action<int> To(IProgressTask task) => n => task.Increment(n);
}
