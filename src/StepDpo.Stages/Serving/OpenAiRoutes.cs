using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using StepDpo.Core;
using StepDpo.Stages.Backends;

namespace StepDpo.Stages.Serving;

/// <summary>The OpenAI routes, in the shapes vLLM answers with (choices in index order, usage, model cards with root
/// and max_model_len).</summary>
public static class CompletionsEndpoints
{
    /// <summary>Maps the OpenAI routes onto an existing ASP.NET Core app.</summary>
    public static void MapOpenAiCompletions(this IEndpointRouteBuilder routes, ICompletionBackend backend, ServeOptions options)
    {
        routes.MapGet("/health", () => Results.Ok());
        var v1 = routes.MapGroup("/v1");
        if (options.ApiKey is { } key) v1.AddEndpointFilter(async (ctx, next) => Authorized(ctx.HttpContext, key) ? await next(ctx) : Unauthorized());
        v1.MapGet("/models", () => Results.Json(new JsonObject
        {
            ["object"] = "list",
            ["data"] = new JsonArray(new JsonObject
            {
                ["id"] = options.Model, ["object"] = "model", ["created"] = Started, ["owned_by"] = "stepdpo",
                ["root"] = options.Root ?? options.Model, ["parent"] = null, ["max_model_len"] = options.MaxModelLen,
            }),
        }));
        v1.MapPost("/completions", ctx => HandleAsync(ctx, backend, options, chat: false));
        v1.MapPost("/chat/completions", ctx => HandleAsync(ctx, backend, options, chat: true));
    }

    static readonly long Started = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    /// <summary>"Authorization: Bearer KEY", compared in constant time.</summary>
    static bool Authorized(HttpContext ctx, string key)
    {
        var header = ctx.Request.Headers.Authorization.ToString();
        const string bearer = "Bearer ";
        if (!header.StartsWith(bearer, StringComparison.OrdinalIgnoreCase)) return false;
        return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(header[bearer.Length..].Trim()), Encoding.UTF8.GetBytes(key));
    }

    static IResult Unauthorized() => Results.Json(new { error = "Unauthorized" }, statusCode: 401);

    static async Task HandleAsync(HttpContext ctx, ICompletionBackend backend, ServeOptions options, bool chat)
    {
        IReadOnlyList<string> prompts;
        CompletionRequest request;
        bool wantLogprobs = false;
        try
        {
            var body = await RequestBodies.ReadAsync(ctx.Request.Body, ctx.RequestAborted).ConfigureAwait(false);
            if (chat)
            {
                var call = ChatCall.Parse(body, options);
                (prompts, request) = ([call.Prompt], call.Request);
            }
            else
            {
                var call = CompletionsCall.Parse(body, options);
                (prompts, request, wantLogprobs) = (call.Prompts, call.Request, call.WantLogprobs);
            }
        }
        catch (BadParameterException e) { await Error(ctx, e.Status, e.Message, e.Param).ConfigureAwait(false); return; }

        // Several prompts run concurrently, so a batching backend takes them in one batch; choices are numbered
        // prompt-major (n per prompt), as vLLM does.
        IReadOnlyList<Completion>[] answers;
        try
        {
            answers = await Task.WhenAll(prompts.Select(p => backend.CompleteAsync(request with { Prompt = p }, ctx.RequestAborted))).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested) { return; }
        catch (StepDpoException e) { await Error(ctx, 400, e.Message, null).ConfigureAwait(false); return; }

        var choices = new JsonArray();
        var usage = TokenUsage.Zero;
        for (var p = 0; p < answers.Length; p++)
            for (var i = 0; i < answers[p].Count; i++)
            {
                var c = answers[p][i];
                usage += c.Usage ?? TokenUsage.Zero;
                choices.Add(chat ? ChatChoice(p * request.N + i, c) : Choice(p * request.N + i, c, wantLogprobs));
            }
        ctx.Response.ContentType = "application/json";
        await ctx.Response.WriteAsync(new JsonObject
        {
            ["id"] = (chat ? "chatcmpl-" : "cmpl-") + Guid.NewGuid().ToString("N"),
            ["object"] = chat ? "chat.completion" : "text_completion",
            ["created"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            ["model"] = options.Model,
            ["choices"] = choices,
            ["usage"] = new JsonObject
            {
                ["prompt_tokens"] = usage.PromptTokens,
                ["completion_tokens"] = usage.CompletionTokens,
                ["total_tokens"] = usage.PromptTokens + usage.CompletionTokens,
            },
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

    static JsonObject ChatChoice(int index, Completion c) => new()
    {
        ["index"] = index,
        ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = c.Text },
        ["logprobs"] = null,
        ["finish_reason"] = c.FinishReason,
    };

    static Task Error(HttpContext ctx, int status, string message, string? param)
    {
        ctx.Response.StatusCode = status;
        return ctx.Response.WriteAsJsonAsync(new { error = new { message, type = "invalid_request_error", param, code = status } });
    }
}
