using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using StepDpo.Core;
using StepDpo.Stages.Backends;

namespace StepDpo.Stages.Serving;

/// <param name="Model">the name clients must ask for (as vLLM's --served-model-name)</param>
/// <param name="MaxN">largest n a request may ask for</param>
public sealed record ServeOptions(string Model, int MaxN = 64);

/// <summary>Serves any <see cref="ICompletionBackend"/> (e.g. the local TorchSharp engine) as an OpenAI-compatible
/// <c>POST /v1/completions</c> plus <c>GET /v1/models</c>, so the pipeline, or vLLM-minded tools, can sample from a
/// local model over HTTP. Non-streaming only. Bad requests get OpenAI-style 400 errors naming the parameter.</summary>
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

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync().ConfigureAwait(false);
        await app.DisposeAsync().ConfigureAwait(false);
    }
}

public static class CompletionsEndpoints
{
    /// <summary>Maps the OpenAI completions routes onto an existing ASP.NET Core app.</summary>
    public static void MapOpenAiCompletions(this IEndpointRouteBuilder routes, ICompletionBackend backend, ServeOptions options)
    {
        routes.MapGet("/v1/models", () => Results.Json(new
        {
            @object = "list",
            data = new[] { new { id = options.Model, @object = "model", owned_by = "stepdpo" } },
        }));
        routes.MapPost("/v1/completions", ctx => HandleAsync(ctx, backend, options));
    }

    static async Task HandleAsync(HttpContext ctx, ICompletionBackend backend, ServeOptions options)
    {
        JsonObject body;
        try
        {
            body = (await JsonNode.ParseAsync(ctx.Request.Body, cancellationToken: ctx.RequestAborted).ConfigureAwait(false)) as JsonObject
                ?? throw new JsonException("the body is not a JSON object");
        }
        catch (JsonException e) { await Error(ctx, 400, $"invalid JSON body: {e.Message}", null).ConfigureAwait(false); return; }

        CompletionsCall call;
        try { call = CompletionsCall.Parse(body, options); }
        catch (BadParameterException e) { await Error(ctx, e.Status, e.Message, e.Param).ConfigureAwait(false); return; }

        var choices = new JsonArray();
        try
        {
            // A list of prompts yields n choices per prompt, indexed prompt-major as vLLM does.
            for (var p = 0; p < call.Prompts.Count; p++)
            {
                var request = call.Request with { Prompt = call.Prompts[p] };
                var completions = await backend.CompleteAsync(request, ctx.RequestAborted).ConfigureAwait(false);
                for (var i = 0; i < completions.Count; i++)
                    choices.Add(Choice(p * call.Request.N + i, completions[i], call.WantLogprobs));
            }
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested) { return; }
        catch (StepDpoException e) { await Error(ctx, 400, e.Message, null).ConfigureAwait(false); return; }

        ctx.Response.ContentType = "application/json";
        await ctx.Response.WriteAsync(new JsonObject
        {
            ["id"] = "cmpl-" + Guid.NewGuid().ToString("N"),
            ["object"] = "text_completion",
            ["created"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            ["model"] = options.Model,
            ["choices"] = choices,
        }.ToJsonString(), ctx.RequestAborted).ConfigureAwait(false);
    }

    static JsonObject Choice(int index, Completion c, bool wantLogprobs) => new()
    {
        ["index"] = index,
        ["text"] = c.Text,
        ["logprobs"] = wantLogprobs && c.TokenLogprobs is { } lp
            ? new JsonObject { ["token_logprobs"] = new JsonArray(lp.Select(v => (JsonNode?)JsonValue.Create(v)).ToArray()) }
            : null,
        ["finish_reason"] = c.FinishReason,
    };

    static Task Error(HttpContext ctx, int status, string message, string? param)
    {
        ctx.Response.StatusCode = status;
        return ctx.Response.WriteAsJsonAsync(new { error = new { message, type = "invalid_request_error", param, code = status } });
    }
}

/// <summary>A validated completions request body.</summary>
sealed record CompletionsCall(IReadOnlyList<string> Prompts, CompletionRequest Request, bool WantLogprobs)
{
    public static CompletionsCall Parse(JsonObject body, ServeOptions options)
    {
        var model = Optional<string>(body, "model");
        if (model is not null && model != options.Model)
            throw new BadParameterException($"The model '{model}' does not exist; this server serves '{options.Model}'", "model", 404);
        if (Optional<bool?>(body, "stream") == true) throw new BadParameterException("streaming is not supported", "stream");
        if (Optional<bool?>(body, "echo") == true) throw new BadParameterException("echo is not supported", "echo");
        var prompts = Strings(body, "prompt") ?? throw new BadParameterException("'prompt' is required", "prompt");
        if (prompts.Count == 0) throw new BadParameterException("'prompt' must not be empty", "prompt");
        var n = Optional<int?>(body, "n") ?? 1;
        if (n < 1 || n > options.MaxN) throw new BadParameterException($"'n' must be within 1..{options.MaxN}", "n");
        var temperature = Optional<double?>(body, "temperature") ?? 1.0;
        if (temperature < 0) throw new BadParameterException("'temperature' must not be negative", "temperature");
        var topP = Optional<double?>(body, "top_p") ?? 1.0;
        if (topP is <= 0 or > 1) throw new BadParameterException("'top_p' must be in (0, 1]", "top_p");
        var maxTokens = Optional<int?>(body, "max_tokens") ?? 16;   // the OpenAI default
        if (maxTokens < 1) throw new BadParameterException("'max_tokens' must be at least 1", "max_tokens");
        var stop = Strings(body, "stop") ?? [];
        var seed = Optional<long?>(body, "seed");
        var logprobs = Optional<int?>(body, "logprobs");
        return new CompletionsCall(prompts, new CompletionRequest("", n, temperature, topP, maxTokens, stop, seed), logprobs is not null);
    }

    static T? Optional<T>(JsonObject body, string name)
    {
        if (!body.TryGetPropertyValue(name, out var node) || node is null) return default;
        try { return node.GetValue<T>(); }
        catch (Exception e) when (e is FormatException or InvalidOperationException)
        {
            throw new BadParameterException($"'{name}' has the wrong type ({node.ToJsonString()})", name);
        }
    }

    /// <summary>A string or an array of strings (the forms "prompt" and "stop" take).</summary>
    static IReadOnlyList<string>? Strings(JsonObject body, string name)
    {
        if (!body.TryGetPropertyValue(name, out var node) || node is null) return null;
        if (node is JsonValue v && v.TryGetValue<string>(out var one)) return [one];
        if (node is JsonArray array && array.All(x => x is JsonValue e && e.TryGetValue<string>(out _)))
            return array.Select(x => x!.GetValue<string>()).ToArray();
        throw new BadParameterException($"'{name}' must be a string or an array of strings (token ids are not supported)", name);
    }
}

sealed class BadParameterException(string message, string param, int status = 400) : Exception(message)
{
    public string Param { get; } = param;
    public int Status { get; } = status;
}
