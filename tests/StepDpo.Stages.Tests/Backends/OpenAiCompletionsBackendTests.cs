using System.Diagnostics;
using StepDpo.Core;
using StepDpo.Stages.Backends;
using StepDpo.Stages.Tests.Loopback;

namespace StepDpo.Stages.Tests.Backends;

public class OpenAiCompletionsBackendTests
{
    static CompletionRequest Request(int n = 3, long? seed = 11) => new("Solve 1+1.", n, 0.8, 0.95, 32, ["\n\n"], seed);

    [Fact]
    public async Task Sends_the_completions_request_and_returns_choices_in_index_order()
    {
        await using var server = await LoopbackCompletionsServer.StartAsync();
        using var backend = new OpenAiCompletionsBackend(SamplingFixture.Options(server.BaseUrl));

        var completions = await backend.CompleteAsync(Request(), CancellationToken.None);

        // The server lists choices in reverse order; the client must put them back by index.
        Assert.Equal(["Solve 1+1. | seed=11 | #0", "Solve 1+1. | seed=11 | #1", "Solve 1+1. | seed=11 | #2"], completions.Select(c => c.Text));
        Assert.All(completions, c => Assert.Equal("stop", c.FinishReason));
        var sent = Assert.Single(server.Served);
        Assert.Equal((3, 0.8, 0.95, 32, 11L), (sent.N, sent.Temperature, sent.TopP, sent.MaxTokens, sent.Seed!.Value));
        Assert.Equal(["\n\n"], sent.Stop);
        Assert.Equal("policy", sent.Body["model"]!.GetValue<string>());
        Assert.Null(sent.Authorization);
        Assert.Equal(0, backend.Stats.Retries);
    }

    [Fact]
    public async Task A_base_url_ending_in_v1_is_not_doubled_and_chat_wraps_the_prompt()
    {
        await using var server = await LoopbackCompletionsServer.StartAsync();
        var options = SamplingFixture.Options(new Uri(server.BaseUrl, "v1/")) with { Api = OpenAiApi.Chat };
        using var backend = new OpenAiCompletionsBackend(options);

        var completions = await backend.CompleteAsync(Request(n: 2, seed: null), CancellationToken.None);

        Assert.Equal(["Solve 1+1. | seed= | #0", "Solve 1+1. | seed= | #1"], completions.Select(c => c.Text));
        Assert.Equal("user", Assert.Single(server.Served).Body["messages"]![0]!["role"]!.GetValue<string>());
        Assert.Null(server.Served.Single().Body["seed"]);
    }

    [Fact]
    public async Task The_api_key_comes_from_the_named_environment_variable()
    {
        await using var server = await LoopbackCompletionsServer.StartAsync();
        var variable = "STEPDPO_TEST_KEY_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(variable, "sk-test-123");
        try
        {
            using var backend = new OpenAiCompletionsBackend(SamplingFixture.Options(server.BaseUrl) with { ApiKeyEnvironmentVariable = variable });
            await backend.CompleteAsync(Request(n: 1), CancellationToken.None);
            Assert.Equal("Bearer sk-test-123", Assert.Single(server.Served).Authorization);
        }
        finally { Environment.SetEnvironmentVariable(variable, null); }

        var error = Assert.Throws<StepDpoException>(() => new OpenAiCompletionsBackend(SamplingFixture.Options(server.BaseUrl) with { ApiKeyEnvironmentVariable = variable }));
        Assert.Contains(variable, error.Message);
    }

    public static TheoryData<FaultKind> RetryableFaults() =>
        [FaultKind.Http500, FaultKind.Http429, FaultKind.Slow, FaultKind.Drop, FaultKind.DropMidBody, FaultKind.MalformedJson, FaultKind.MissingChoice];

    [Theory]
    [MemberData(nameof(RetryableFaults))]
    public async Task Each_transient_fault_is_retried_until_the_answer_arrives(FaultKind kind)
    {
        var fault = new Fault(kind, Delay: TimeSpan.FromSeconds(2));
        await using var server = await LoopbackCompletionsServer.StartAsync(FaultSchedules.Sequence(fault, fault));
        using var backend = new OpenAiCompletionsBackend(SamplingFixture.Options(server.BaseUrl, timeoutMs: kind == FaultKind.Slow ? 400 : 5000));

        var completions = await backend.CompleteAsync(Request(), CancellationToken.None);

        Assert.Equal(["Solve 1+1. | seed=11 | #0", "Solve 1+1. | seed=11 | #1", "Solve 1+1. | seed=11 | #2"], completions.Select(c => c.Text));
        var counted = kind switch
        {
            FaultKind.Http500 => backend.Stats.ServerErrors,
            FaultKind.Http429 => backend.Stats.Throttled,
            FaultKind.Slow => backend.Stats.Timeouts,
            FaultKind.Drop or FaultKind.DropMidBody => backend.Stats.ConnectionErrors,
            _ => backend.Stats.Malformed,
        };
        // Two faulty answers, each retried. A connection the server tore down can also fail the next attempt
        // on the client side (a pooled socket found dead), which is one more retried connection error.
        var extra = kind is FaultKind.Drop or FaultKind.DropMidBody ? 1 : 0;
        Assert.True(counted >= 2 && counted <= 2 + extra, backend.Stats.ToString());
        Assert.InRange(backend.Stats.Retries, 2, 2 + extra);
        Assert.Equal(backend.Stats.Retries + 1, backend.Stats.Attempts);
        Assert.InRange(server.Calls, 3, 3 + extra);
    }

    [Fact]
    public async Task After_the_last_attempt_the_error_names_the_endpoint_and_the_last_failure()
    {
        await using var server = await LoopbackCompletionsServer.StartAsync(FaultSchedules.Always(new Fault(FaultKind.Http500)));
        using var backend = new OpenAiCompletionsBackend(SamplingFixture.Options(server.BaseUrl, maxAttempts: 3));

        var error = await Assert.ThrowsAsync<CompletionBackendException>(() => backend.CompleteAsync(Request(), CancellationToken.None));

        Assert.Equal(3, server.Calls);
        Assert.Contains(server.BaseUrl + "v1/completions", error.Message);
        Assert.Contains("3 attempt(s)", error.Message);
        Assert.Contains("HTTP 500", error.Message);
        Assert.Contains("the engine died", error.Message);
    }

    [Fact]
    public async Task A_refused_request_fails_at_once_without_retrying()
    {
        await using var server = await LoopbackCompletionsServer.StartAsync(FaultSchedules.Always(new Fault(FaultKind.Http400)));
        using var backend = new OpenAiCompletionsBackend(SamplingFixture.Options(server.BaseUrl));

        var error = await Assert.ThrowsAsync<CompletionBackendException>(() => backend.CompleteAsync(Request(), CancellationToken.None));

        Assert.Equal(1, server.Calls);
        Assert.Contains("HTTP 400", error.Message);
        Assert.Contains("max_tokens is too large", error.Message);
    }

    [Fact]
    public async Task Retry_after_from_the_server_is_honoured()
    {
        var throttle = new Fault(FaultKind.Http429, RetryAfterMs: 400);
        await using var server = await LoopbackCompletionsServer.StartAsync(FaultSchedules.Sequence(throttle));
        // A jittered backoff alone would wait at most 40 ms here.
        using var backend = new OpenAiCompletionsBackend(SamplingFixture.Options(server.BaseUrl));

        var clock = Stopwatch.StartNew();
        await backend.CompleteAsync(Request(), CancellationToken.None);

        Assert.True(clock.ElapsedMilliseconds >= 380, $"{clock.ElapsedMilliseconds} ms");
        Assert.Equal(1, backend.Stats.Throttled);
    }

    [Fact]
    public async Task No_more_than_max_concurrency_requests_are_in_flight()
    {
        var slowish = new Fault(FaultKind.Slow, Delay: TimeSpan.FromMilliseconds(40));
        await using var server = await LoopbackCompletionsServer.StartAsync(FaultSchedules.Always(slowish));
        using var backend = new OpenAiCompletionsBackend(SamplingFixture.Options(server.BaseUrl) with { MaxConcurrency = 3 });

        await Task.WhenAll(Enumerable.Range(0, 12).Select(i => backend.CompleteAsync(Request(n: 1, seed: i), CancellationToken.None)));

        Assert.Equal(12, server.Calls);
        Assert.Equal(3, server.MaxInFlight);
    }

    [Fact]
    public async Task Cancellation_by_the_caller_is_not_retried()
    {
        var hang = new Fault(FaultKind.Slow, Delay: TimeSpan.FromSeconds(10));
        await using var server = await LoopbackCompletionsServer.StartAsync(FaultSchedules.Always(hang));
        using var backend = new OpenAiCompletionsBackend(SamplingFixture.Options(server.BaseUrl, timeoutMs: 5000));
        using var cts = new CancellationTokenSource();

        var call = backend.CompleteAsync(Request(), cts.Token);
        while (server.Calls == 0) await Task.Delay(5);
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);

        Assert.Equal(1, server.Calls);
        Assert.Equal(0, backend.Stats.Retries);
    }

    [Fact]
    public async Task A_callers_http_client_is_used_as_it_is()
    {
        await using var server = await LoopbackCompletionsServer.StartAsync();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        await http.GetAsync(server.BaseUrl);   // already used: its settings can no longer change
        using var backend = new OpenAiCompletionsBackend(SamplingFixture.Options(server.BaseUrl), http);
        Assert.Equal(2, (await backend.CompleteAsync(Request(n: 2), CancellationToken.None)).Count);
        Assert.Equal(TimeSpan.FromSeconds(30), http.Timeout);
    }

    [Fact]
    public void Bad_options_are_reported_by_key()
    {
        var ok = SamplingFixture.Options(new Uri("http://127.0.0.1:1"));
        Assert.Contains("openai.max_concurrency", Assert.Throws<StepDpoException>(() => (ok with { MaxConcurrency = 0 }).Validate()).Message);
        Assert.Contains("openai.base_url", Assert.Throws<StepDpoException>(() => (ok with { BaseUrl = new Uri("ftp://x/") }).Validate()).Message);
        Assert.Contains("openai.model", Assert.Throws<StepDpoException>(() => (ok with { Model = " " }).Validate()).Message);
    }
}
