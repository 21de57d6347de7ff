using StepDpo.Core;

namespace StepDpo.Stages.Backends;

/// <summary>Which OpenAI-compatible route to call. Sampling uses <see cref="Completions"/> (raw prompt, as vLLM,
/// SGLang and TGI serve it); <see cref="Chat"/> wraps the prompt in one user message, for hosted judge models
/// such as GPT-4o that only speak chat.</summary>
public enum OpenAiApi { Completions, Chat }

/// <summary>Connection and robustness settings of <see cref="OpenAiCompletionsBackend"/>. The API key is never
/// part of the options: only the name of the environment variable that holds it.</summary>
public sealed record OpenAiOptions
{
    /// <summary>Server root, e.g. http://127.0.0.1:8000 or https://api.openai.com/v1 (a trailing /v1 is accepted).</summary>
    public required Uri BaseUrl { get; init; }
    public required string Model { get; init; }
    public OpenAiApi Api { get; init; } = OpenAiApi.Completions;
    /// <summary>Name of the environment variable with the bearer token; null for servers without authentication.</summary>
    public string? ApiKeyEnvironmentVariable { get; init; }
    /// <summary>Requests in flight at once (per backend instance).</summary>
    public int MaxConcurrency { get; init; } = 16;
    /// <summary>Budget of one attempt, from sending to the last byte of the body.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromMinutes(10);
    /// <summary>Attempts per request, the first included.</summary>
    public int MaxAttempts { get; init; } = 8;
    /// <summary>Backoff cap of the first retry; it doubles per retry up to <see cref="MaxBackoff"/>.</summary>
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(60);
    /// <summary>Longest Retry-After we obey; a server asking for more is waited for this long.</summary>
    public TimeSpan MaxRetryAfter { get; init; } = TimeSpan.FromMinutes(5);
    /// <summary>When set, ask for per-token log-probabilities (the completions API's integer <c>logprobs</c>).</summary>
    public int? Logprobs { get; init; }
    /// <summary>Seed of the backoff jitter, so that test runs wait the same; null draws from the shared generator.</summary>
    public int? JitterSeed { get; init; }

    /// <summary>Throws a <see cref="StepDpoException"/> naming the offending key.</summary>
    public void Validate()
    {
        if (!BaseUrl.IsAbsoluteUri || (BaseUrl.Scheme != Uri.UriSchemeHttp && BaseUrl.Scheme != Uri.UriSchemeHttps))
            throw new StepDpoException($"openai.base_url: '{BaseUrl}' is not an absolute http(s) URL");
        if (string.IsNullOrWhiteSpace(Model)) throw new StepDpoException("openai.model: must not be empty");
        if (MaxConcurrency < 1) throw new StepDpoException($"openai.max_concurrency: {MaxConcurrency} must be at least 1");
        if (MaxAttempts < 1) throw new StepDpoException($"openai.max_attempts: {MaxAttempts} must be at least 1");
        if (RequestTimeout <= TimeSpan.Zero) throw new StepDpoException($"openai.timeout: {RequestTimeout} must be positive");
        if (InitialBackoff < TimeSpan.Zero || MaxBackoff < InitialBackoff)
            throw new StepDpoException($"openai.backoff: need 0 <= initial ({InitialBackoff}) <= max ({MaxBackoff})");
        if (Logprobs is < 0 or > 20) throw new StepDpoException($"openai.logprobs: {Logprobs} must be within 0..20");
    }

    /// <summary>The endpoint URL for <see cref="Api"/>: {base}/v1/completions, without doubling a /v1 the user gave.</summary>
    public Uri Endpoint()
    {
        var root = BaseUrl.AbsoluteUri.TrimEnd('/');
        if (!root.EndsWith("/v1", StringComparison.Ordinal)) root += "/v1";
        return new Uri(root + (Api == OpenAiApi.Chat ? "/chat/completions" : "/completions"));
    }
}
