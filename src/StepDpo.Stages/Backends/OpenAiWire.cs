using System.Text.Json;
using System.Text.Json.Nodes;

namespace StepDpo.Stages.Backends;

/// <summary>The JSON of the OpenAI completions and chat-completions routes, as vLLM's OpenAI server speaks it:
/// <c>choices[]</c> each with <c>index</c>, <c>text</c> (chat: <c>message.content</c>), <c>finish_reason</c> and
/// optional <c>logprobs</c>. With n &gt; 1 the server may list choices in any order, so they are put back in
/// <c>index</c> order here.</summary>
public static class OpenAiWire
{
    public static string RequestBody(OpenAiOptions o, CompletionRequest r)
    {
        var body = new JsonObject { ["model"] = o.Model };
        if (o.Api == OpenAiApi.Chat)
            body["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = r.Prompt });
        else
            body["prompt"] = r.Prompt;
        body["n"] = r.N;
        body["temperature"] = r.Temperature;
        body["top_p"] = r.TopP;
        body["max_tokens"] = r.MaxTokens;
        if (r.Stop.Count > 0) body["stop"] = new JsonArray(r.Stop.Select(s => (JsonNode?)JsonValue.Create(s)).ToArray());
        if (r.Seed is { } seed) body["seed"] = seed;
        if (o.Logprobs is { } k)
        {
            if (o.Api == OpenAiApi.Chat) { body["logprobs"] = true; body["top_logprobs"] = k; }
            else body["logprobs"] = k;
        }
        return body.ToJsonString();
    }

    /// <summary>Parses a 2xx body into exactly <paramref name="expected"/> completions; any deviation (not JSON, no
    /// choices, wrong count, missing text, duplicate index) is a <see cref="MalformedResponseException"/>, which the
    /// client retries like a transport fault.</summary>
    public static IReadOnlyList<Completion> ParseResponse(string body, OpenAiApi api, int expected, bool wantLogprobs)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(body); }
        catch (JsonException e) { throw new MalformedResponseException($"body is not JSON ({e.Message}): {Snippet(body)}"); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("choices", out var choices) || choices.ValueKind != JsonValueKind.Array)
                throw new MalformedResponseException($"no 'choices' array: {Snippet(body)}");
            if (choices.GetArrayLength() != expected)
                throw new MalformedResponseException($"expected {expected} choices, got {choices.GetArrayLength()}");
            var slots = new Completion?[expected];
            var position = 0;
            foreach (var choice in choices.EnumerateArray())
            {
                var index = choice.TryGetProperty("index", out var ix) && ix.ValueKind == JsonValueKind.Number ? ix.GetInt32() : position;
                if (index < 0 || index >= expected || slots[index] is not null)
                    throw new MalformedResponseException($"choice index {index} is out of range or repeated (n={expected})");
                slots[index] = ParseChoice(choice, api, wantLogprobs, index);
                position++;
            }
            // The response's usage goes on the first continuation (see Completion.Usage).
            if (Usage(root) is { } usage) slots[0] = slots[0]! with { Usage = usage };
            return slots!;
        }
    }

    /// <summary>usage.prompt_tokens and usage.completion_tokens, when the server sends them (vLLM, SGLang, OpenAI do).</summary>
    static TokenUsage? Usage(JsonElement root)
    {
        if (!root.TryGetProperty("usage", out var u) || u.ValueKind != JsonValueKind.Object) return null;
        long Count(string name) => u.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var n) ? n : 0;
        return new TokenUsage(Count("prompt_tokens"), Count("completion_tokens"));
    }

    static Completion ParseChoice(JsonElement choice, OpenAiApi api, bool wantLogprobs, int index)
    {
        JsonElement text = default;
        var ok = api == OpenAiApi.Chat
            ? choice.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.Object && message.TryGetProperty("content", out text)
            : choice.TryGetProperty("text", out text);
        if (!ok || text.ValueKind != JsonValueKind.String)
            throw new MalformedResponseException($"choice {index} has no text");
        // A finished non-streaming choice always has a reason; null only appears in streams, so call it unknown.
        var finish = choice.TryGetProperty("finish_reason", out var f) && f.ValueKind == JsonValueKind.String ? f.GetString()! : "unknown";
        IReadOnlyList<double>? logprobs = null;
        if (wantLogprobs)
            logprobs = api == OpenAiApi.Chat ? ChatLogprobs(choice, index) : CompletionLogprobs(choice, index);
        return new Completion(text.GetString()!, finish, logprobs);
    }

    static double[] CompletionLogprobs(JsonElement choice, int index)
    {
        if (!choice.TryGetProperty("logprobs", out var lp) || lp.ValueKind != JsonValueKind.Object
            || !lp.TryGetProperty("token_logprobs", out var values) || values.ValueKind != JsonValueKind.Array)
            throw new MalformedResponseException($"choice {index} lacks logprobs.token_logprobs although they were requested");
        // vLLM reports null for a token whose log-probability it could not compute (the first prompt token under echo).
        return values.EnumerateArray().Select(v => v.ValueKind == JsonValueKind.Number ? v.GetDouble() : double.NaN).ToArray();
    }

    static double[] ChatLogprobs(JsonElement choice, int index)
    {
        if (!choice.TryGetProperty("logprobs", out var lp) || lp.ValueKind != JsonValueKind.Object
            || !lp.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.Array)
            throw new MalformedResponseException($"choice {index} lacks logprobs.content although they were requested");
        return content.EnumerateArray()
            .Select(t => t.TryGetProperty("logprob", out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : double.NaN)
            .ToArray();
    }

    /// <summary>The server's own error message ({"error": {"message": ...}} or {"message": ...}) or the raw body.</summary>
    public static string ErrorMessage(string body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            var root = doc.RootElement;
            if (root.ValueKind == JsonValueKind.Object)
            {
                if (root.TryGetProperty("error", out var e))
                {
                    if (e.ValueKind == JsonValueKind.String) return e.GetString()!;
                    if (e.ValueKind == JsonValueKind.Object && e.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String) return m.GetString()!;
                }
                if (root.TryGetProperty("message", out var msg) && msg.ValueKind == JsonValueKind.String) return msg.GetString()!;
            }
        }
        catch (JsonException) { }
        return Snippet(body);
    }

    internal static string Snippet(string s) => s.Length <= 200 ? s : s[..200] + "...";
}

/// <summary>A 2xx answer that does not have the promised shape.</summary>
public sealed class MalformedResponseException(string message) : Exception(message);
