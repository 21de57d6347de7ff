using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using StepDpo.Core;
using StepDpo.Core.Graph;
using StepDpo.Core.Manifests;
using StepDpo.Stages.Backends;
using StepDpo.Stages.Implementations;
using StepDpo.Stages.Tests.Loopback;

namespace StepDpo.Stages.Tests.Implementations;

/// <summary>verify.method judge through the real stage graph, against a loopback server that serves only chat (and
/// answers 404 on /v1/completions, as OpenAI does for GPT-4o), on real sampled solutions: concurrency, unreadable
/// verdicts retried and counted, usage in stage.json, resume after a cancelled run, the key nowhere in the artifacts.</summary>
public partial class JudgeStageTests
{
    static string Fixture => Path.Combine(AppContext.BaseDirectory, "Fixtures", "qwen2.5-7b-math-responses.jsonl");

    /// <summary>A judge that blames the last step; its first answer to every third solution is unreadable.</summary>
    static string Verdict(ScriptedRequest r, int _)
    {
        var answer = r.Prompt[r.Prompt.IndexOf("### Incorrect answer:", StringComparison.Ordinal)..r.Prompt.IndexOf("\n---", StringComparison.Ordinal)];
        int steps = StepLabel().Matches(answer).Count;
        if (r.Temperature == 0 && (r.Prompt.Length % 3 == 0)) return "All in all the answer looks shaky.";
        var labels = Enumerable.Range(1, steps).Select(k => $"Step {k}: {(k == steps ? "incorrect" : "correct")}");
        return "The last step is wrong.\n\nFinal Decision:\n" + string.Join("; ", labels);
    }

    [GeneratedRegex(@"\nStep \d+: ")]
    private static partial Regex StepLabel();

    static (Workspace Ws, string Root) Setup(Uri judge, string keyVariable)
    {
        string root = Path.Combine(Path.GetTempPath(), "stepdpo-judge", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(root, "experiments"));
        File.WriteAllText(Path.Combine(root, "experiments", "judged.yaml"), $"""
            name: judged
            model: {"{"}path: not-needed, template: qwen2-boxed{"}"}
            data: {"{"}source: samples, path: {Fixture}{"}"}
            verify:
              method: judge
              judge_retries: 2
              judge: {"{"}base_url: '{judge}', model: gpt-4o, api_key_env: {keyVariable}, concurrency: 4, max_retries: 2{"}"}
            """);
        return (new Workspace(root, Path.Combine(root, "artifacts")), root);
    }

    [Fact]
    public async Task Judges_over_chat_concurrently_counts_usage_and_resumes_without_asking_again()
    {
        const string key = "sk-test-7f3c9a1e5b2d4c6f8a0b";
        string variable = "STEPDPO_TEST_JUDGE_KEY_" + Guid.NewGuid().ToString("N")[..8];
        Environment.SetEnvironmentVariable(variable, key);
        using var firstRun = new CancellationTokenSource();
        int answered = 0;
        using var secondArrived = new ManualResetEventSlim();
        await using var server = await LoopbackCompletionsServer.StartAsync(responder: (r, i) =>
        {
            // The first answer waits for a second request: it comes only if the judge asks concurrently (the wait
            // gives up after 30 s, and the in-flight assertion below then fails).
            int call = Interlocked.Increment(ref answered);
            if (call == 1) secondArrived.Wait(TimeSpan.FromSeconds(30));
            else secondArrived.Set();
            // Cancel the first run part way, as a Ctrl+C would.
            if (call == 12) firstRun.Cancel();
            return Verdict(r, i);
        }, chatOnly: true);
        var (ws, root) = Setup(server.BaseUrl, variable);
        var manifest = ManifestLoader.Load("judged", ws);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            Pipeline.Graph(ws).RunAsync(manifest, new RunOptions("verify"), SilentProgressReporter.Instance, ct: firstRun.Token));
        await server.QuiesceAsync();
        var partial = Directory.GetFiles(Path.Combine(root, "artifacts"), VerifyStage.FileName, SearchOption.AllDirectories).Single();
        var judgedFirst = PipelineStage.ReadJsonl<VerifiedRecord>(partial).Select(r => r.Id).ToHashSet();
        var promptsFirst = server.Served.Select(r => r.Prompt).ToList();
        Assert.NotEmpty(judgedFirst);

        var plan = await Pipeline.Graph(ws).RunAsync(manifest, new RunOptions("verify"), SilentProgressReporter.Instance);
        var dir = plan["verify"].Dir!;
        var records = PipelineStage.ReadJsonl<VerifiedRecord>(Path.Combine(dir, VerifyStage.FileName)).ToList();
        var samples = PipelineStage.ReadJsonl<SampleRecord>(Path.Combine(plan["sample"].Dir!, SampleStage.FileName)).ToList();
        Assert.Equal(samples.Count(s => !s.Correct), records.Count);

        // Nothing judged before the cancel was asked again: the second run asked exactly for the other solutions.
        var promptsSecond = server.Served.Skip(promptsFirst.Count).Select(r => r.Prompt).Distinct().Count();
        Assert.Equal(records.Count(r => r.Judge is not null && !judgedFirst.Contains(r.Id)), promptsSecond);
        // Answers for solutions in flight at the cancel are lost: at most 4 solutions x 3 attempts.
        Assert.True(server.Served.Count <= records.Sum(r => r.Judge?.Requests ?? 0) + 12,
            $"{server.Served.Count} judge calls for {records.Sum(r => r.Judge?.Requests ?? 0)} recorded");

        // Chat only, concurrently, with the key.
        Assert.Equal(0, server.RefusedCompletions);
        Assert.True(server.MaxInFlight > 1, $"at most {server.MaxInFlight} judge request in flight");
        Assert.All(server.Served, r => Assert.Equal($"Bearer {key}", r.Authorization));
        Assert.All(server.Served, r => Assert.Equal("gpt-4o", r.Body["model"]!.GetValue<string>()));

        // Every judged solution is located at its last step; unreadable first answers were retried and counted.
        var judged = records.Where(r => r.Judge is not null).ToList();
        Assert.All(judged, r => Assert.Equal("located", r.Outcome));
        Assert.All(judged, r => Assert.Equal(r.Labels!.Count, r.FirstWrongStep));
        int unreadable = judged.Sum(r => r.Judge!.Unparseable);
        Assert.True(unreadable > 0, "no unreadable answer was met");
        Assert.Equal(judged.Count + unreadable, judged.Sum(r => r.Judge!.Requests));

        var counters = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "stage.json")))!["counters"]!;
        Assert.Equal(judged.Sum(r => r.Judge!.Requests), counters["judge_requests"]!.GetValue<long>());
        Assert.Equal(unreadable, counters["judge_unparseable_answers"]!.GetValue<long>());
        Assert.Equal(judged.Sum(r => r.Judge!.PromptTokens), counters["judge_prompt_tokens"]!.GetValue<long>());
        Assert.True(counters["judge_prompt_tokens"]!.GetValue<long>() > 1000);
        Assert.True(counters["judge_completion_tokens"]!.GetValue<long>() > 0);

        // The key is in no artifact (records, stage.json, the resolved manifest).
        foreach (var file in Directory.GetFiles(Path.Combine(root, "artifacts"), "*", SearchOption.AllDirectories))
            Assert.DoesNotContain(key, File.ReadAllText(file));
        Environment.SetEnvironmentVariable(variable, null);
    }

    [Fact]
    public async Task A_refused_key_is_not_quoted_in_the_error()
    {
        const string key = "sk-test-refused-0d9e8f7a6b5c";
        string variable = "STEPDPO_TEST_JUDGE_KEY_" + Guid.NewGuid().ToString("N")[..8];
        Environment.SetEnvironmentVariable(variable, key);
        await using var server = await LoopbackCompletionsServer.StartAsync(FaultSchedules.Always(new Fault(FaultKind.Http401QuotingKey)), chatOnly: true);
        var (ws, _) = Setup(server.BaseUrl, variable);

        var error = await Assert.ThrowsAsync<CompletionBackendException>(() =>
            Pipeline.Graph(ws).RunAsync(ManifestLoader.Load("judged", ws), new RunOptions("verify"), SilentProgressReporter.Instance));
        Assert.Contains("HTTP 401", error.Message);
        Assert.Contains("Incorrect API key provided: [api key]", error.Message);
        Assert.DoesNotContain(key, error.Message);
        Environment.SetEnvironmentVariable(variable, null);
    }
}
