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
                .Select(i => new Completion($"{r.Prompt}->{i}@{r.Seed}", i % 2 == 0 ? "stop" : "length", [-0.5 * i, -1],
                    new TokenUsage(i == 0 ? r.Prompt.Length : 0, 2)))
                .ToArray();
            return Task.FromResult(result);
        }
    }

    static Task<CompletionsServer> Start(ICompletionBackend model, string? apiKey = null) =>
        CompletionsServer.StartAsync(model, new ServeOptions("local-policy", MaxN: 8, Root: "/models/policy", MaxModelLen: 512, ApiKey: apiKey),
            IPAddress.Loopback, 0, CancellationToken.None);

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

    [Fact]
    public async Task Chat_renders_the_messages_and_answers_in_the_chat_shape_with_usage()
    {
        var model = new EchoModel();
        await using var server = await Start(model);
        using var client = new OpenAiCompletionsBackend(SamplingFixture.Options(server.BaseUrl) with { Model = "local-policy", Api = OpenAiApi.Chat });

        var completions = await client.CompleteAsync(new CompletionRequest("Judge this.", 2, 0, 1, 64, [], 3), CancellationToken.None);

        // No chat template given: the plain form, the content and a newline.
        Assert.Equal(["Judge this.\n->0@3", "Judge this.\n->1@3"], completions.Select(c => c.Text));
        Assert.Equal(new TokenUsage("Judge this.\n".Length, 4), completions[0].Usage);
        Assert.Null(completions[1].Usage);
        Assert.Equal(("Judge this.\n".Length, 4L), (client.Stats.PromptTokens, client.Stats.CompletionTokens));
        Assert.Equal(64, model.Seen[0].MaxTokens);
    }

    [Fact]
    public async Task An_api_key_is_required_on_every_v1_route_as_vllm_does()
    {
        await using var server = await Start(new EchoModel(), apiKey: "secret-key");
        using var http = new HttpClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync(new Uri(server.BaseUrl, "v1/models"))).StatusCode);
        var post = await http.PostAsync(new Uri(server.BaseUrl, "v1/completions"), new StringContent("""{"prompt":"a"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Unauthorized, post.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri(server.BaseUrl, "health"))).StatusCode);

        using var wrong = new HttpRequestMessage(HttpMethod.Get, new Uri(server.BaseUrl, "v1/models"));
        wrong.Headers.Authorization = new("Bearer", "secret-kez");
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(wrong)).StatusCode);

        string variable = "STEPDPO_TEST_SERVE_KEY_" + Guid.NewGuid().ToString("N")[..8];
        Environment.SetEnvironmentVariable(variable, "secret-key");
        using var client = new OpenAiCompletionsBackend(SamplingFixture.Options(server.BaseUrl) with { Model = "local-policy", ApiKeyEnvironmentVariable = variable });
        Assert.Single(await client.CompleteAsync(new CompletionRequest("a", 1, 0, 1, 8, [], null), CancellationToken.None));
        var cards = await ServedModels.ListAsync(server.BaseUrl, variable, CancellationToken.None);
        Assert.Equal(("local-policy", "/models/policy"), (cards[0].Id, cards[0].Root));
        Environment.SetEnvironmentVariable(variable, null);
    }

    [Fact]
    public async Task Two_names_of_one_model_are_recognised_by_their_root()
    {
        await using var a = await Start(new EchoModel());
        var card = await ServedModels.FindAsync(a.BaseUrl.AbsoluteUri, "local-policy", null, CancellationToken.None);
        Assert.True(card.SameModelAs(card with { Id = "alias", Server = new Uri("http://127.0.0.1:1") }));
        Assert.False(card.SameModelAs(card with { Id = "trained", Root = "/models/trained" }));
        var missing = await Assert.ThrowsAsync<StepDpo.Core.StepDpoException>(() =>
            ServedModels.FindAsync(a.BaseUrl.AbsoluteUri, "trained", null, CancellationToken.None));
        Assert.Contains("does not serve 'trained' (it serves: local-policy)", missing.Message);
    }

    [Theory]
    [InlineData("""{"messages":[]}""", "messages")]
    [InlineData("""{"messages":[{"content":"x"}]}""", "messages")]
    [InlineData("""{"messages":[{"role":"user","content":"x"}],"logprobs":true}""", "logprobs")]
    public async Task Bad_chat_requests_name_the_parameter(string json, string param)
    {
        await using var server = await Start(new EchoModel());
        using var http = new HttpClient();
        using var response = await http.PostAsync(new Uri(server.BaseUrl, "v1/chat/completions"), new StringContent(json, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(param, JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!["param"]!.GetValue<string>());
    }
}
