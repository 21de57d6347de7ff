using System.Net.Http.Headers;
using System.Text.Json;
using StepDpo.Core;

namespace StepDpo.Stages.Backends;

/// <summary>One entry of GET /v1/models. vLLM reports the model path behind each served name as <c>root</c>, so two
/// names for one model (--served-model-name a b) are recognisable.</summary>
public sealed record ServedModelCard(string Id, string? Root, Uri Server)
{
    public bool SameModelAs(ServedModelCard other) =>
        (Server == other.Server && Id == other.Id) || (Root is not null && Root == other.Root);
}

/// <summary>What an OpenAI-compatible server says it serves.</summary>
public static class ServedModels
{
    public static async Task<IReadOnlyList<ServedModelCard>> ListAsync(Uri baseUrl, string? apiKeyEnv, CancellationToken ct)
    {
        var root = baseUrl.AbsoluteUri.TrimEnd('/');
        var url = new Uri((root.EndsWith("/v1", StringComparison.Ordinal) ? root : root + "/v1") + "/models");
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        var key = apiKeyEnv is null ? null : Environment.GetEnvironmentVariable(apiKeyEnv)?.Trim();
        if (!string.IsNullOrEmpty(key)) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        // A server may quote the key it refused: it never reaches an error message.
        string Redact(string text) => string.IsNullOrEmpty(key) ? text : text.Replace(key, "[api key]", StringComparison.Ordinal);
        using var response = await http.SendAsync(request, ct).ConfigureAwait(false);
        var body = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
            throw new StepDpoException($"{url}: HTTP {(int)response.StatusCode}: {Redact(OpenAiWire.ErrorMessage(body))}");
        try
        {
            using var doc = JsonDocument.Parse(body);
            return doc.RootElement.GetProperty("data").EnumerateArray().Select(m => new ServedModelCard(
                m.GetProperty("id").GetString() ?? "",
                m.TryGetProperty("root", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString() : null,
                baseUrl)).ToList();
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new StepDpoException($"{url}: not an OpenAI model list: {Redact(OpenAiWire.Snippet(body))}");
        }
    }

    /// <summary>The card of <paramref name="name"/>; a clear error when the server is unreachable or serves other models.</summary>
    public static async Task<ServedModelCard> FindAsync(string baseUrl, string name, string? apiKeyEnv, CancellationToken ct)
    {
        IReadOnlyList<ServedModelCard> cards;
        try { cards = await ListAsync(new Uri(baseUrl), apiKeyEnv, ct).ConfigureAwait(false); }
        catch (HttpRequestException e) { throw new StepDpoException($"{baseUrl}: no server answers ({e.Message}); start it first", e); }
        return cards.FirstOrDefault(c => c.Id == name)
            ?? throw new StepDpoException($"{baseUrl} does not serve '{name}' (it serves: {string.Join(", ", cards.Select(c => c.Id))})");
    }

    /// <summary>The card, or null when the server does not answer or does not serve that name.</summary>
    public static async Task<ServedModelCard?> TryFindAsync(string baseUrl, string name, string? apiKeyEnv, CancellationToken ct)
    {
        try { return (await ListAsync(new Uri(baseUrl), apiKeyEnv, ct).ConfigureAwait(false)).FirstOrDefault(c => c.Id == name); }
        catch (Exception e) when (e is HttpRequestException or StepDpoException or TaskCanceledException && !ct.IsCancellationRequested) { return null; }
    }
}
