using StepDpo.Core;
using StepDpo.Core.Graph;
using StepDpo.Core.Manifests;
using StepDpo.Stages.Backends;
using StepDpo.Stages.Models;
using StepDpo.Stages.Serving;

namespace StepDpo.Stages.Sampling;

/// <summary>Builds the sampler a manifest section asks for: the local engine, a server the user runs (openai), or a
/// server the stage starts and stops (vllm, sglang).</summary>
public static class Samplers
{
    /// <summary>The start model as a sampler for a stage (sample, verify and pairs use the same model: in-distribution).</summary>
    public static Task<ISampler> ForStartModelAsync(StageContext ctx, string backend, EndpointSection endpoint, int batchSize, CancellationToken ct)
    {
        var m = ctx.Manifest;
        return backend switch
        {
            "local" => Task.FromResult(Local(ModelStore.StartModelDir(ctx), m.Model.Dtype, m.Model.Device, batchSize)),
            "openai" => Task.FromResult<ISampler>(Remote(endpoint, endpoint.BaseUrl, endpoint.Model ?? m.Model.Path ?? m.Name)),
            _ => ServedAsync(ctx, backend, ModelStore.StartModelDir(ctx), "start", endpoint, ct),
        };
    }

    /// <param name="device">model.device: where the local engine runs the model</param>
    public static ISampler Local(string modelDir, string dtype, string device, int batchSize)
    {
        var (model, tokenizer) = ModelStore.Load(modelDir, dtype, device);
        return new LocalSampler(model, tokenizer, batchSize);
    }

    /// <summary>A server someone else runs, asked for <paramref name="servedModel"/>.</summary>
    public static RemoteSampler Remote(EndpointSection endpoint, string baseUrl, string servedModel) =>
        new(new OpenAiCompletionsBackend(ClientOptions(endpoint, new Uri(baseUrl), servedModel)), endpoint.Concurrency);

    static OpenAiOptions ClientOptions(EndpointSection endpoint, Uri baseUrl, string servedModel) => new()
    {
        BaseUrl = baseUrl,
        Model = servedModel,
        ApiKeyEnvironmentVariable = endpoint.ApiKeyEnv,
        MaxConcurrency = endpoint.Concurrency,
        RequestTimeout = TimeSpan.FromSeconds(endpoint.TimeoutSeconds),
        MaxAttempts = endpoint.MaxRetries + 1,
    };

    /// <summary>Starts a vLLM or SGLang server (serve section) on <paramref name="modelDir"/>, logging to
    /// server-ROLE.log in the stage folder; the sampler stops it when disposed.</summary>
    public static async Task<ISampler> ServedAsync(StageContext ctx, string backend, string modelDir, string role, EndpointSection endpoint,
        CancellationToken ct)
    {
        var serve = ctx.Manifest.Serve;
        var launch = ServerLaunch.For(backend, serve, Path.GetFullPath(modelDir), role, ctx.Manifest.Model.Dtype, ServerLaunch.FreePort());
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var server = await ManagedServer.StartAsync(launch, ctx.File($"server-{role}.log"),
            TimeSpan.FromSeconds(serve.StartupTimeoutSeconds), TimeSpan.FromSeconds(serve.StopTimeoutSeconds), ct);
        ctx.Counters[$"server_{role}_ready_seconds"] = System.Math.Round(clock.Elapsed.TotalSeconds, 2);
        // The server is ours and local: the client connects without a key, whatever api_key_env says.
        var client = new OpenAiCompletionsBackend(ClientOptions(endpoint, server.BaseUrl, role) with { ApiKeyEnvironmentVariable = null });
        return new ServedSampler(server, new RemoteSampler(client, endpoint.Concurrency));
    }

    /// <summary>Reports finished sequences of a sampling call to a progress bar.</summary>
    public static Action<int> To(IProgressTask task) => n => task.Increment(n);
}

/// <summary>A <see cref="RemoteSampler"/> on a server this stage started: when the server dies mid-run the requests
/// in flight end at once with the server's exit and log tail (instead of retrying for minutes), and disposing stops
/// the server.</summary>
public sealed class ServedSampler(ManagedServer server, RemoteSampler inner) : ISampler
{
    public ManagedServer Server => server;
    public int PreferredChunk => inner.PreferredChunk;

    public async Task<IReadOnlyList<IReadOnlyList<string>>> SampleAsync(IReadOnlyList<SamplePrompt> prompts, SampleParams p,
        Action<int>? onSequencesDone, CancellationToken ct)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, server.Died);
        try { return await inner.SampleAsync(prompts, p, onSequencesDone, linked.Token).ConfigureAwait(false); }
        catch (OperationCanceledException) when (server.Died.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            throw new StepDpoException(server.ExitDescription());
        }
        catch (CompletionBackendException e) when (server.Died.IsCancellationRequested)
        {
            throw new StepDpoException(server.ExitDescription(), e);
        }
    }

    public void Dispose()
    {
        try { inner.Dispose(); }
        finally { server.Dispose(); }
    }
}
