using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StepDpo.Stages.Backends;

namespace StepDpo.Stages.Serving;

/// <param name="Model">the name clients must ask for (as vLLM's --served-model-name)</param>
/// <param name="MaxN">largest n a request may ask for</param>
/// <param name="Root">what /v1/models reports as the model's root (vLLM: the model path), so clients can tell two
/// names of one model apart from two models</param>
/// <param name="MaxModelLen">longest prompt + completion in tokens, also reported by /v1/models</param>
/// <param name="ApiKey">when set, every /v1 request needs "Authorization: Bearer KEY" (else 401), as vLLM's --api-key</param>
/// <param name="Chat">renders chat messages into a prompt; null: <see cref="ChatTemplate.Plain"/></param>
public sealed record ServeOptions(string Model, int MaxN = 64, string? Root = null, int? MaxModelLen = null, string? ApiKey = null,
    ChatTemplate? Chat = null);

/// <summary>Serves any <see cref="ICompletionBackend"/> (e.g. the local TorchSharp engine) as an OpenAI-compatible
/// server: <c>POST /v1/completions</c>, <c>POST /v1/chat/completions</c>, <c>GET /v1/models</c> and <c>GET /health</c>,
/// so the pipeline, or vLLM-minded tools, can sample from a local model over HTTP. Non-streaming only. Bad requests
/// get OpenAI-style 400 errors naming the parameter.</summary>
public sealed class CompletionsServer : IAsyncDisposable
{
    readonly WebApplication app;
    public Uri BaseUrl { get; }

    CompletionsServer(WebApplication app, Uri baseUrl)
    {
        this.app = app;
        BaseUrl = baseUrl;
    }

    /// <param name="port">0 picks a free port; see <see cref="BaseUrl"/></param>
    public static async Task<CompletionsServer> StartAsync(ICompletionBackend backend, ServeOptions options, IPAddress address, int port, CancellationToken ct)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(address, port));
        var app = builder.Build();
        app.MapOpenAiCompletions(backend, options);
        await app.StartAsync(ct).ConfigureAwait(false);
        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new CompletionsServer(app, new Uri(bound));
    }

    /// <summary>Completes when the host stops by itself (it handles SIGTERM and Ctrl+C) or <paramref name="ct"/> is cancelled.</summary>
    public Task WaitForShutdownAsync(CancellationToken ct) => app.WaitForShutdownAsync(ct);

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync().ConfigureAwait(false);
        await app.DisposeAsync().ConfigureAwait(false);
    }
}
