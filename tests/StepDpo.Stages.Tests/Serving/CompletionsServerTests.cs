using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using StepDpo.Stages.Backends;
using StepDpo.Stages.Serving;

namespace StepDpo.Stages.Tests.Serving;

public class CompletionsServerTests
{
    /// <summary>A deterministic in-process "model": its text names the request, so round trips can be checked.</summary>
    sealed class EchoModel : ICompletionBackend
    {
        public readonly List<CompletionRequest> Seen = [];
        public Task<IReadOnlyList<Completion>> CompleteAsync(CompletionRequest r, CancellationToken ct)
        {
            lock (Seen) Seen.Add(r);
            IReadOnlyList<Completion> result = Enumerable.Range(0, r.N)
                .Select(i => new Completion($"{r.Prompt}->{i}@{r.Seed}", i % 2 == 0 ? "stop" : "length", [-0.5 * i, -1]))
                .ToArray();
            return Task.FromResult(result);
        }
    }

    static Task<CompletionsServer> Start(ICompletionBackend model) =>
        CompletionsServer.StartAsync(model, new ServeOptions("local-policy", MaxN: 8), IPAddress.Loopback, 0, CancellationToken.None);

    [Fact]
    public async Task The_pipelines_own_client_samples_through_it()
    {
        var model = new EchoModel();
        await using var server = await Start(model);
        using var client = new OpenAiCompletionsBackend(SamplingFixture.Options(server.BaseUrl) with { Model = "local-policy", Logprobs = 1 });

        var completions = await client.CompleteAsync(new CompletionRequest("2+2=", 3, 0.8, 0.95, 64, ["\n\n"], 5), CancellationToken.None);

        Assert.Equal(["2+2=->0@5", "2+2=->1@5", "2+2=->2@5"], completions.Select(c => c.Text));
        Assert.Equal(["stop", "length", "stop"], completions.Select(c => c.FinishReason));
        Assert.Equal([-1.0, -1.0], completions[2].TokenLogprobs);
        Assert.Equal(new CompletionRequest("2+2=", 3, 0.8, 0.95, 64, ["\n\n"], 5) with { Stop = model.Seen[0].Stop }, model.Seen[0]);
        Assert.Equal(["\n\n"], model.Seen[0].Stop);
    }

    static async Task<(HttpStatusCode, JsonNode)> Post(CompletionsServer server, string json)
    {
        using var http = new HttpClient();
        using var response = await http.PostAsync(new Uri(server.BaseUrl, "v1/completions"), new StringContent(json, Encoding.UTF8, "application/json"));
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
    }

    [Fact]
    public async Task Several_prompts_give_n_choices_each_indexed_prompt_major_and_defaults_follow_openai()
    {
        var model = new EchoModel();
        await using var server = await Start(model);
        var (status, body) = await Post(server, """{"prompt":["a","b"],"n":2,"stop":"X"}""");

        Assert.Equal(HttpStatusCode.OK, status);
        var choices = body["choices"]!.AsArray();
        Assert.Equal([0, 1, 2, 3], choices.Select(c => c!["index"]!.GetValue<int>()));
        Assert.Equal(["a->0@", "a->1@", "b->0@", "b->1@"], choices.Select(c => c!["text"]!.GetValue<string>()));
        Assert.Null(choices[0]!["logprobs"]);
        Assert.Equal((1.0, 1.0, 16, (long?)null), (model.Seen[0].Temperature, model.Seen[0].TopP, model.Seen[0].MaxTokens, model.Seen[0].Seed));
        Assert.Equal(["X"], model.Seen[0].Stop);
    }

    [Theory]
    [InlineData("""{"prompt":"a","n":0}""", HttpStatusCode.BadRequest, "n")]
    [InlineData("""{"prompt":"a","n":9}""", HttpStatusCode.BadRequest, "n")]
    [InlineData("""{"prompt":"a","n":"two"}""", HttpStatusCode.BadRequest, "n")]
    [InlineData("""{"n":1}""", HttpStatusCode.BadRequest, "prompt")]
    [InlineData("""{"prompt":[1,2,3]}""", HttpStatusCode.BadRequest, "prompt")]
    [InlineData("""{"prompt":"a","top_p":0}""", HttpStatusCode.BadRequest, "top_p")]
    [InlineData("""{"prompt":"a","stream":true}""", HttpStatusCode.BadRequest, "stream")]
    [InlineData("""{"prompt":"a","model":"gpt-x"}""", HttpStatusCode.NotFound, "model")]
    [InlineData("""{"prompt":""", HttpStatusCode.BadRequest, null)]
    public async Task Bad_requests_get_openai_style_errors_naming_the_parameter(string json, HttpStatusCode expected, string? param)
    {
        var model = new EchoModel();
        await using var server = await Start(model);
        var (status, body) = await Post(server, json);
        Assert.Equal(expected, status);
        Assert.Equal(param, body["error"]!["param"]?.GetValue<string>());
        Assert.False(string.IsNullOrEmpty(body["error"]!["message"]!.GetValue<string>()));
        Assert.Empty(model.Seen);
    }

    [Fact]
    public async Task A_refused_request_reaches_the_client_as_one_clear_error()
    {
        await using var server = await Start(new EchoModel());
        using var client = new OpenAiCompletionsBackend(SamplingFixture.Options(server.BaseUrl) with { Model = "other" });
        var error = await Assert.ThrowsAsync<CompletionBackendException>(() =>
            client.CompleteAsync(new CompletionRequest("a", 1, 0, 1, 8, [], null), CancellationToken.None));
        Assert.Contains("HTTP 404", error.Message);
        Assert.Contains("this server serves 'local-policy'", error.Message);
    }

    [Fact]
    public async Task Lists_the_served_model()
    {
        await using var server = await Start(new EchoModel());
        using var http = new HttpClient();
        var models = JsonNode.Parse(await http.GetStringAsync(new Uri(server.BaseUrl, "v1/models")))!;
        Assert.Equal("local-policy", models["data"]![0]!["id"]!.GetValue<string>());
    }
}
