using System.Net;
using System.Net.Http.Headers;
using System.Text;
using StepDpo.Core;

namespace StepDpo.Stages.Backends;

/// <summary>Client of any OpenAI-compatible server (vLLM, SGLang, TGI, OpenAI). Robust for long unattended runs:
/// at most <see cref="OpenAiOptions.MaxConcurrency"/> requests in flight, a timeout per attempt, and retries with
/// exponential backoff and full jitter for 408/429/5xx, timeouts, dropped connections and malformed bodies.
/// Other 4xx (bad key, unknown model, bad parameters) fail at once: retrying cannot fix them.</summary>
public sealed class OpenAiCompletionsBackend : ICompletionBackend, IDisposable
{
    readonly OpenAiOptions options;
    readonly HttpClient http;
    readonly bool ownsHttp;
    readonly SemaphoreSlim inFlight;
    readonly Backoff backoff;
    readonly Uri endpoint;
    readonly string? apiKey;

    public OpenAiBackendStats Stats { get; } = new();
    public Uri Endpoint => endpoint;

    public OpenAiCompletionsBackend(OpenAiOptions o, HttpClient? http = null)
    {
        o.Validate();
        options = o;
        endpoint = o.Endpoint();
        apiKey = ReadApiKey(o.ApiKeyEnvironmentVariable);
        inFlight = new SemaphoreSlim(o.MaxConcurrency, o.MaxConcurrency);
        backoff = new Backoff(o.InitialBackoff, o.MaxBackoff, o.MaxRetryAfter, o.JitterSeed);
        ownsHttp = http is null;
        // A caller's client keeps its own settings; its Timeout, if shorter than ours, counts as a retried timeout.
        this.http = http ?? new HttpClient(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = o.MaxConcurrency,
            // Recycle connections so a server behind a changing DNS name or load balancer is followed.
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            AutomaticDecompression = DecompressionMethods.All,
        })
        {
            // Our own per-attempt timeout governs.
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    static string? ReadApiKey(string? variable)
    {
        if (variable is null) return null;
        var value = Environment.GetEnvironmentVariable(variable);
        if (string.IsNullOrWhiteSpace(value))
            throw new StepDpoException($"api_key_env: the environment variable '{variable}' is not set (the key is never read from the manifest)");
        return value.Trim();
    }

    /// <summary>Server messages can quote the key they refused (OpenAI quotes part of it): it never reaches an error,
    /// a log or stage.json.</summary>
    string Redact(string text) => apiKey is null ? text : text.Replace(apiKey, "[api key]", StringComparison.Ordinal);

    public async Task<IReadOnlyList<Completion>> CompleteAsync(CompletionRequest r, CancellationToken ct)
    {
        if (r.N < 1) throw new ArgumentOutOfRangeException(nameof(r), r.N, "N must be at least 1");
        var body = OpenAiWire.RequestBody(options, r);
        Interlocked.Increment(ref Stats.requests);
        string lastFailure = "";
        for (var attempt = 1; ; attempt++)
        {
            var outcome = await AttemptAsync(body, r.N, ct).ConfigureAwait(false);
            if (outcome.Completions is { } done)
            {
                if (done[0].Usage is { } usage)
                {
                    Interlocked.Add(ref Stats.promptTokens, usage.PromptTokens);
                    Interlocked.Add(ref Stats.completionTokens, usage.CompletionTokens);
                }
                return done;
            }
            lastFailure = Redact(outcome.Failure!);
            if (attempt >= options.MaxAttempts)
                throw new CompletionBackendException($"{endpoint}: gave up after {attempt} attempt(s); last failure: {lastFailure}");
            Interlocked.Increment(ref Stats.retries);
            // The slot is released while we wait, so other requests keep the server busy.
            await Task.Delay(backoff.Delay(attempt, outcome.RetryAfter), ct).ConfigureAwait(false);
        }
    }

    readonly record struct Outcome(IReadOnlyList<Completion>? Completions, string? Failure, TimeSpan? RetryAfter);

    async Task<Outcome> AttemptAsync(string body, int n, CancellationToken ct)
    {
        await inFlight.WaitAsync(ct).ConfigureAwait(false);
        using var attemptCts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        attemptCts.CancelAfter(options.RequestTimeout);
        Interlocked.Increment(ref Stats.attempts);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, endpoint)
            {
                Content = new StringContent(body, Encoding.UTF8, "application/json"),
            };
            if (apiKey is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, attemptCts.Token).ConfigureAwait(false);
            var text = await response.Content.ReadAsStringAsync(attemptCts.Token).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            if (response.IsSuccessStatusCode)
            {
                try { return new Outcome(OpenAiWire.ParseResponse(text, options.Api, n, options.Logprobs is not null), null, null); }
                catch (MalformedResponseException e)
                {
                    Interlocked.Increment(ref Stats.malformed);
                    return new Outcome(null, $"malformed response: {e.Message}", null);
                }
            }
            var message = $"HTTP {status} {response.ReasonPhrase}: {OpenAiWire.ErrorMessage(text)}";
            if (status is 408 or 409 or 429 || status >= 500)
            {
                Interlocked.Increment(ref status == 429 ? ref Stats.throttled : ref Stats.serverErrors);
                return new Outcome(null, message, Backoff.RetryAfter(response.Headers, DateTimeOffset.UtcNow));
            }
            throw new CompletionBackendException($"{endpoint}: {Redact(message)} (not retried: the request itself was refused)");
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            Interlocked.Increment(ref Stats.timeouts);
            return new Outcome(null, $"no complete answer within {options.RequestTimeout.TotalSeconds:0.###} s", null);
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            Interlocked.Increment(ref Stats.connectionErrors);
            return new Outcome(null, $"connection failed: {Innermost(e).Message}", null);
        }
        finally
        {
            inFlight.Release();
        }
    }

    static Exception Innermost(Exception e)
    {
        while (e.InnerException is not null) e = e.InnerException;
        return e;
    }

    public void Dispose()
    {
        if (ownsHttp) http.Dispose();
        inFlight.Dispose();
    }
}

/// <summary>What the client went through, for the stage's stats and for tests. Counters only grow.</summary>
public sealed class OpenAiBackendStats
{
    internal long requests, attempts, retries, timeouts, connectionErrors, serverErrors, throttled, malformed, promptTokens, completionTokens;
    public long Requests => Interlocked.Read(ref requests);
    public long Attempts => Interlocked.Read(ref attempts);
    public long Retries => Interlocked.Read(ref retries);
    public long Timeouts => Interlocked.Read(ref timeouts);
    public long ConnectionErrors => Interlocked.Read(ref connectionErrors);
    public long ServerErrors => Interlocked.Read(ref serverErrors);
    public long Throttled => Interlocked.Read(ref throttled);
    public long Malformed => Interlocked.Read(ref malformed);
    /// <summary>Tokens the server reported in its answers' usage (0 when it reports none).</summary>
    public long PromptTokens => Interlocked.Read(ref promptTokens);
    public long CompletionTokens => Interlocked.Read(ref completionTokens);
    public override string ToString() =>
        $"requests={Requests} attempts={Attempts} retries={Retries} timeouts={Timeouts} connection_errors={ConnectionErrors} " +
        $"server_errors={ServerErrors} throttled={Throttled} malformed={Malformed} prompt_tokens={PromptTokens} completion_tokens={CompletionTokens}";
}
