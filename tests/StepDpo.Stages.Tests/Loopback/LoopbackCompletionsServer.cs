using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace StepDpo.Stages.Tests.Loopback;

/// <summary>What the scripted responder sees of one request.</summary>
public sealed record ScriptedRequest(string Prompt, int N, double Temperature, double TopP, int MaxTokens, long? Seed, string[] Stop, string? Authorization, JsonObject Body);

/// <summary>Text of choice <c>index</c> for a request.</summary>
public delegate string Responder(ScriptedRequest request, int index);

/// <summary>A real HTTP server on 127.0.0.1 (Kestrel, free port) speaking the OpenAI completions and chat
/// completions routes the way vLLM does, backed by a scripted responder, with faults injected per call.
/// Choices with n &gt; 1 are listed in reverse index order, to prove the client sorts by index.</summary>
public sealed class LoopbackCompletionsServer : IAsyncDisposable
{
    readonly WebApplication app;
    readonly FaultSchedule faults;
    readonly Responder responder;
    // Ends held (Slow) requests when the server is disposed, so shutdown never waits for them.
    readonly CancellationTokenSource stopping = new();
    int calls, inFlight, maxInFlight, choicesServed, refusedCompletions;

    public Uri BaseUrl { get; private set; } = null!;
    /// <summary>Requests answered with 200 and a well-formed body, in arrival order.</summary>
    public ConcurrentQueue<ScriptedRequest> Served { get; } = new();
    public int Calls => Volatile.Read(ref calls);
    public int MaxInFlight => Volatile.Read(ref maxInFlight);
    /// <summary>Requests to /v1/completions a chat-only server turned away.</summary>
    public int RefusedCompletions => Volatile.Read(ref refusedCompletions);

    /// <summary>Waits until no request is being handled, so counts read afterwards are final for what came before.</summary>
    public async Task QuiesceAsync()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (Volatile.Read(ref inFlight) > 0 && DateTime.UtcNow < deadline) await Task.Delay(5);
        Assert.True(Volatile.Read(ref inFlight) == 0, "the loopback server still handles requests after 30 s");
    }
    /// <summary>Choices delivered in well-formed 200 answers.</summary>
    public int ChoicesServed => Volatile.Read(ref choicesServed);

    LoopbackCompletionsServer(WebApplication app, FaultSchedule faults, Responder responder)
    {
        this.app = app;
        this.faults = faults;
        this.responder = responder;
    }

    /// <summary>The default responder: deterministic text naming prompt, seed and index.</summary>
    public static string Echo(ScriptedRequest r, int index) => $"{r.Prompt} | seed={r.Seed} | #{index}";

    /// <param name="chatOnly">serve only /v1/chat/completions and answer 404 on /v1/completions, as OpenAI does for GPT-4o</param>
    public static async Task<LoopbackCompletionsServer> StartAsync(FaultSchedule? faults = null, Responder? responder = null, bool chatOnly = false)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var server = new LoopbackCompletionsServer(app, faults ?? FaultSchedules.Never, responder ?? Echo);
        if (chatOnly)
        {
            app.MapPost("/v1/completions", ctx =>
            {
                Interlocked.Increment(ref server.refusedCompletions);
                return Error(ctx, 404, "This is a chat model and not supported in the v1/completions endpoint. Did you mean to use v1/chat/completions?");
            });
        }
        else app.MapPost("/v1/completions", ctx => server.HandleAsync(ctx, chat: false));
        app.MapPost("/v1/chat/completions", ctx => server.HandleAsync(ctx, chat: true));
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.BaseUrl = new Uri(address);
        return server;
    }

    async Task HandleAsync(HttpContext ctx, bool chat)
    {
        var call = Interlocked.Increment(ref calls);
        var now = Interlocked.Increment(ref inFlight);
        for (var seen = maxInFlight; now > seen; seen = maxInFlight) Interlocked.CompareExchange(ref maxInFlight, now, seen);
        try
        {
            var body = (await JsonNode.ParseAsync(ctx.Request.Body, cancellationToken: ctx.RequestAborted))!.AsObject();
            var request = Parse(body, chat, ctx.Request.Headers.Authorization.FirstOrDefault());
            var fault = faults(call);
            switch (fault.Kind)
            {
                case FaultKind.Http500:
                    await Error(ctx, 500, "the engine died"); return;
                case FaultKind.Http400:
                    await Error(ctx, 400, "max_tokens is too large"); return;
                case FaultKind.Http401QuotingKey:
                    await Error(ctx, 401, $"Incorrect API key provided: {request.Authorization?.Replace("Bearer ", "")}"); return;
                case FaultKind.Http429:
                    ctx.Response.Headers["retry-after-ms"] = fault.RetryAfterMs.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    await Error(ctx, 429, "rate limited"); return;
                case FaultKind.Drop:
                    ctx.Abort(); return;
                case FaultKind.Slow:
                    using (var wait = CancellationTokenSource.CreateLinkedTokenSource(ctx.RequestAborted, stopping.Token))
                        try { await Task.Delay(fault.Delay, wait.Token); }
                    catch (OperationCanceledException) { return; }   // the client gave up, as it should
                    break;
            }
            var choices = new JsonArray();
            var count = fault.Kind == FaultKind.MissingChoice ? request.N - 1 : request.N;
            long completionTokens = 0;
            for (var i = count - 1; i >= 0; i--)
            {
                var text = responder(request, i);
                completionTokens += text.Length;
                choices.Add(chat
                    ? new JsonObject { ["index"] = i, ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = text }, ["finish_reason"] = "stop" }
                    : new JsonObject { ["index"] = i, ["text"] = text, ["logprobs"] = null, ["finish_reason"] = "stop", ["stop_reason"] = null });
            }
            var json = new JsonObject
            {
                ["id"] = $"cmpl-{call}", ["object"] = chat ? "chat.completion" : "text_completion", ["created"] = 0,
                ["model"] = body["model"]?.GetValue<string>(), ["choices"] = choices,
                // One "token" per character, so tests can predict the usage.
                ["usage"] = new JsonObject { ["prompt_tokens"] = request.Prompt.Length, ["completion_tokens"] = completionTokens },
            }.ToJsonString();
            ctx.Response.ContentType = "application/json";
            if (fault.Kind == FaultKind.MalformedJson) { await ctx.Response.WriteAsync(json[..(json.Length / 2)]); return; }
            if (fault.Kind == FaultKind.DropMidBody)
            {
                ctx.Response.ContentLength = json.Length;
                await ctx.Response.WriteAsync(json[..(json.Length / 2)]);
                await ctx.Response.Body.FlushAsync();
                ctx.Abort();
                return;
            }
            await ctx.Response.WriteAsync(json);
            if (fault.Kind == FaultKind.None || fault.Kind == FaultKind.Slow)
            {
                Served.Enqueue(request);
                Interlocked.Add(ref choicesServed, count);
            }
        }
        finally
        {
            Interlocked.Decrement(ref inFlight);
        }
    }

    static ScriptedRequest Parse(JsonObject body, bool chat, string? authorization)
    {
        var prompt = chat ? body["messages"]![0]!["content"]!.GetValue<string>() : body["prompt"]!.GetValue<string>();
        var stop = body["stop"] is JsonArray s ? s.Select(x => x!.GetValue<string>()).ToArray() : [];
        return new ScriptedRequest(prompt, body["n"]?.GetValue<int>() ?? 1, body["temperature"]!.GetValue<double>(),
            body["top_p"]!.GetValue<double>(), body["max_tokens"]!.GetValue<int>(), body["seed"]?.GetValue<long>(), stop, authorization, body);
    }

    static Task Error(HttpContext ctx, int status, string message)
    {
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "application/json";
        return ctx.Response.WriteAsync(JsonSerializer.Serialize(new { error = new { message, type = "test", code = status } }));
    }

    public async ValueTask DisposeAsync()
    {
        await stopping.CancelAsync();
        await app.StopAsync();
        await app.DisposeAsync();
        stopping.Dispose();
    }
}
