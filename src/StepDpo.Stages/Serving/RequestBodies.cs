using System.Text.Json;
using System.Text.Json.Nodes;
using StepDpo.Stages.Backends;

namespace StepDpo.Stages.Serving;

/// <summary>A validated completions request body: one or more prompts, n continuations each.</summary>
sealed record CompletionsCall(IReadOnlyList<string> Prompts, CompletionRequest Request, bool WantLogprobs)
{
    public static CompletionsCall Parse(JsonObject body, ServeOptions options)
    {
        if (RequestBodies.Optional<bool?>(body, "echo") == true) throw new BadParameterException("echo is not supported", "echo");
        var prompts = RequestBodies.Strings(body, "prompt") ?? throw new BadParameterException("'prompt' is required", "prompt");
        if (prompts.Count == 0) throw new BadParameterException("'prompt' must not be empty", "prompt");
        var logprobs = RequestBodies.Optional<int?>(body, "logprobs");
        return new CompletionsCall(prompts, RequestBodies.Sampling(body, options), logprobs is not null);
    }
}

/// <summary>A validated chat completions request body: the messages rendered into one prompt by the model's chat template.</summary>
sealed record ChatCall(string Prompt, CompletionRequest Request)
{
    public static ChatCall Parse(JsonObject body, ServeOptions options)
    {
        if (body["messages"] is not JsonArray { Count: > 0 } list)
            throw new BadParameterException("'messages' must be a non-empty array", "messages");
        var messages = list.Select((m, i) => Message(m, i)).ToList();
        if (RequestBodies.Optional<bool?>(body, "logprobs") == true)
            throw new BadParameterException("logprobs are not supported on chat completions", "logprobs");
        var request = RequestBodies.Sampling(body, options);
        string prompt;
        try { prompt = (options.Chat ?? ChatTemplate.Plain).Render(messages); }
        catch (NotSupportedException e) { throw new BadParameterException(e.Message, "messages"); }
        return new ChatCall(prompt, request with { Prompt = prompt });
    }

    /// <summary>{"role": ..., "content": "text" or [{"type": "text", "text": ...}, ...]}.</summary>
    static ChatMessage Message(JsonNode? node, int index)
    {
        if (node is not JsonObject m || m["role"] is not JsonValue r || !r.TryGetValue<string>(out var role))
            throw new BadParameterException($"messages[{index}] needs a string 'role'", "messages");
        string content = m["content"] switch
        {
            JsonValue v when v.TryGetValue<string>(out var text) => text,
            JsonArray parts when parts.All(p => p is JsonObject o && o["type"]?.GetValue<string>() == "text" && o["text"] is JsonValue) =>
                string.Concat(parts.Select(p => p!["text"]!.GetValue<string>())),
            null => "",
            _ => throw new BadParameterException($"messages[{index}].content must be a string or a list of text parts", "messages"),
        };
        return new ChatMessage(role, content);
    }
}

static class RequestBodies
{
    /// <summary>max_tokens when a chat request gives none: as many as the context has room for.</summary>
    public const int RestOfContext = int.MaxValue;

    /// <summary>The sampling fields both routes share, with OpenAI's defaults; the prompt is filled in by the caller.</summary>
    public static CompletionRequest Sampling(JsonObject body, ServeOptions options)
    {
        var model = Optional<string>(body, "model");
        if (model is not null && model != options.Model)
            throw new BadParameterException($"The model '{model}' does not exist; this server serves '{options.Model}'", "model", 404);
        if (Optional<bool?>(body, "stream") == true) throw new BadParameterException("streaming is not supported", "stream");
        var n = Optional<int?>(body, "n") ?? 1;
        if (n < 1 || n > options.MaxN) throw new BadParameterException($"'n' must be within 1..{options.MaxN}", "n");
        var temperature = Optional<double?>(body, "temperature") ?? 1.0;
        if (temperature < 0) throw new BadParameterException("'temperature' must not be negative", "temperature");
        var topP = Optional<double?>(body, "top_p") ?? 1.0;
        if (topP is <= 0 or > 1) throw new BadParameterException("'top_p' must be in (0, 1]", "top_p");
        // Chat's newer name first; 16 is the completions API's default, and chat's is the rest of the context.
        var maxTokens = Optional<int?>(body, "max_completion_tokens") ?? Optional<int?>(body, "max_tokens")
            ?? (body.ContainsKey("messages") ? RestOfContext : 16);
        if (maxTokens < 1) throw new BadParameterException("'max_tokens' must be at least 1", "max_tokens");
        var stop = Strings(body, "stop") ?? [];
        var seed = Optional<long?>(body, "seed");
        return new CompletionRequest("", n, temperature, topP, maxTokens, stop, seed);
    }

    public static T? Optional<T>(JsonObject body, string name)
    {
        if (!body.TryGetPropertyValue(name, out var node) || node is null) return default;
        try { return node.GetValue<T>(); }
        catch (Exception e) when (e is FormatException or InvalidOperationException)
        {
            throw new BadParameterException($"'{name}' has the wrong type ({node.ToJsonString()})", name);
        }
    }

    /// <summary>A string or an array of strings (the forms "prompt" and "stop" take).</summary>
    public static IReadOnlyList<string>? Strings(JsonObject body, string name)
    {
        if (!body.TryGetPropertyValue(name, out var node) || node is null) return null;
        if (node is JsonValue v && v.TryGetValue<string>(out var one)) return [one];
        if (node is JsonArray array && array.All(x => x is JsonValue e && e.TryGetValue<string>(out _)))
            return array.Select(x => x!.GetValue<string>()).ToArray();
        throw new BadParameterException($"'{name}' must be a string or an array of strings (token ids are not supported)", name);
    }

    public static async Task<JsonObject> ReadAsync(Stream body, CancellationToken ct)
    {
        try
        {
            return (await JsonNode.ParseAsync(body, cancellationToken: ct).ConfigureAwait(false)) as JsonObject
                ?? throw new BadParameterException("the body is not a JSON object", null);
        }
        catch (JsonException e) { throw new BadParameterException($"invalid JSON body: {e.Message}", null); }
    }
}

sealed class BadParameterException(string message, string? param, int status = 400) : Exception(message)
{
    public string? Param { get; } = param;
    public int Status { get; } = status;
}
