using System.Text.Json.Serialization;
using StepDpo.Core;
using StepDpo.Core.Graph;
using StepDpo.Core.Manifests;
using StepDpo.Stages.Backends;
using StepDpo.Stages.Serving;

namespace StepDpo.Stages.Sampling;

/// <summary>
/// A generation server the stage starts on its model, serves from, and stops (vllm, sglang): on a free loopback port,
/// logging to server-ROLE.log in the stage folder. Only serve.max_model_len and serve.extra_args enter the key (they
/// change what is generated; the engine is the backend and the dtype model.dtype, both keyed); the command, ports,
/// timeouts, environment and tensor-parallel size decide where and how fast the same model runs (a different TP size
/// changes only the order of float sums, as batch composition does), so moving a 72B run from 8 GPUs to 4 keeps its
/// cache. Each engine's own flags are its subclass's.
/// </summary>
public abstract class ManagedBackend : GenerationBackend
{
    public sealed record Settings(int? MaxModelLen, List<string> ExtraArgs)
    {
        [JsonIgnore] public ServeSection Server { get; init; } = new();
        [JsonIgnore] public EndpointSection Client { get; init; } = new();
    }

    public override object Read(ManifestReader<IGenerationSection> section)
    {
        var m = section.Root;
        return new Settings(m.Get(x => x.Serve.MaxModelLen), m.Get(x => x.Serve.ExtraArgs))
        {
            Server = m.GetUnkeyed(x => x.Serve), Client = section.GetUnkeyed(x => x.Endpoint),
        };
    }

    /// <summary>The program and leading arguments when serve.command is empty.</summary>
    public abstract IReadOnlyList<string> DefaultCommand { get; }

    /// <summary>The engine's arguments for a model folder, a served name, tensor-parallel size, host, port and dtype.</summary>
    public abstract List<string> Arguments(string modelDir, string servedModel, int tensorParallelSize, string host, int port, string dtype);

    /// <summary>The engine's flag for the longest prompt + completion.</summary>
    public abstract string MaxModelLenFlag { get; }

    public ServerLaunch Launch(ServeSection serve, string modelDir, string servedModel, string dtype, int port)
    {
        var args = Arguments(modelDir, servedModel, serve.TensorParallelSize, ServerLaunch.Host, port, dtype);
        if (serve.MaxModelLen is int length) args.AddRange([MaxModelLenFlag, ServerLaunch.Text(length)]);
        args.AddRange(serve.ExtraArgs);
        return new ServerLaunch([.. serve.Command.Count > 0 ? serve.Command : DefaultCommand, .. args], serve.Env, port, servedModel);
    }

    public override async Task<ISampler> OpenAsync(object settings, ModelSection model, string modelDir, string role, StageContext ctx, CancellationToken ct)
    {
        var s = (Settings)settings;
        var launch = Launch(s.Server, Path.GetFullPath(modelDir), role, model.Dtype, ServerLaunch.FreePort());
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var server = await ManagedServer.StartAsync(launch, ctx.File($"server-{role}.log"),
            TimeSpan.FromSeconds(s.Server.StartupTimeoutSeconds), TimeSpan.FromSeconds(s.Server.StopTimeoutSeconds), ct);
        ctx.Counters[$"server_{role}_ready_seconds"] = System.Math.Round(clock.Elapsed.TotalSeconds, 2);
        // The server is ours and local: the client connects without a key, whatever api_key_env says.
        var client = new OpenAiCompletionsBackend(OpenAiBackend.ClientOptions(s.Client, server.BaseUrl, role) with { ApiKeyEnvironmentVariable = null });
        return new ServedSampler(server, new RemoteSampler(client, s.Client.Concurrency));
    }
}

/// <summary>`vllm serve DIR --served-model-name ...` (vLLM's argument names).</summary>
public sealed class VllmBackend : ManagedBackend
{
    public override string Name => "vllm";
    public override IReadOnlyList<string> DefaultCommand => ["vllm", "serve"];
    public override string MaxModelLenFlag => "--max-model-len";

    public override List<string> Arguments(string modelDir, string servedModel, int tensorParallelSize, string host, int port, string dtype) =>
    [
        modelDir, "--served-model-name", servedModel, "--tensor-parallel-size", ServerLaunch.Text(tensorParallelSize),
        "--host", host, "--port", ServerLaunch.Text(port), "--dtype", dtype,
    ];
}

/// <summary>`python -m sglang.launch_server --model-path ...` (SGLang's names: --tp, --context-length).</summary>
public sealed class SglangBackend : ManagedBackend
{
    public override string Name => "sglang";
    public override IReadOnlyList<string> DefaultCommand => ["python", "-m", "sglang.launch_server"];
    public override string MaxModelLenFlag => "--context-length";

    public override List<string> Arguments(string modelDir, string servedModel, int tensorParallelSize, string host, int port, string dtype) =>
    [
        "--model-path", modelDir, "--served-model-name", servedModel, "--tp", ServerLaunch.Text(tensorParallelSize),
        "--host", host, "--port", ServerLaunch.Text(port), "--dtype", dtype,
    ];
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
