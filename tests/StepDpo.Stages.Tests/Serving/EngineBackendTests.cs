using System.Net;
using StepDpo.Core.Manifests;
using StepDpo.Stages.Backends;
using StepDpo.Stages.Models;
using StepDpo.Stages.Serving;
using StepDpo.Torch.Generation;
using Completion = StepDpo.Stages.Backends.Completion;

namespace StepDpo.Stages.Tests.Serving;

/// <summary>The real TorchSharp engine behind the HTTP server (what `stepdpo serve` runs), on a random tiny model.</summary>
public sealed class EngineBackendTests : IDisposable
{
    readonly TempDir dir = new();

    public EngineBackendTests()
    {
        ModelStore.CreateRandom(new ModelInit { Arch = "qwen2", Preset = "tiny", Tokenizer = "byte" }, 11, dir.File("model"), "float32");
    }

    public void Dispose() => dir.Dispose();

    [Fact]
    public async Task Concurrent_requests_get_what_the_engine_gives_each_prompt_alone()
    {
        var (model, tokenizer) = ModelStore.Load(dir.File("model"), "float32", "cpu");
        using var _ = model;
        using var backend = new EngineBackend(model, tokenizer, maxBatchSequences: 64);
        await using var server = await CompletionsServer.StartAsync(backend, new ServeOptions("tiny", MaxModelLen: backend.MaxModelLen),
            IPAddress.Loopback, 0, CancellationToken.None);
        using var client = new OpenAiCompletionsBackend(SamplingFixture.Options(server.BaseUrl, timeoutMs: 120_000, maxAttempts: 1) with
        {
            Model = "tiny", MaxConcurrency = 8,
        });

        var prompts = Enumerable.Range(0, 12).Select(i => $"Tom has {i} apples and buys {i + 3} more.\n").ToList();
        var served = await Task.WhenAll(prompts.Select((p, i) =>
            client.CompleteAsync(new CompletionRequest(p, 2, 0.9, 0.95, 20, [], 1000 + i), CancellationToken.None)));

        // The same prompts one at a time through the engine itself, with the same per-prompt seeds.
        var engine = new GenerationEngine(model, tokenizer);
        for (int i = 0; i < prompts.Count; i++)
        {
            var alone = engine.Generate([prompts[i]], new SamplingOptions
            {
                N = 2, Temperature = 0.9, TopP = 0.95, MaxNewTokens = 20, PromptSeeds = [(ulong)(1000 + i)],
            });
            Assert.Equal(alone.Select(c => c.Text), served[i].Select(c => c.Text));
            Assert.Equal(tokenizer.Encode(prompts[i]).Length + (tokenizer.BosId is null ? 0 : 1), served[i][0].Usage!.PromptTokens);
            // Over HTTP the response's usage arrives on the first choice.
            Assert.Equal(alone.Sum(c => (long)c.TokenIds.Length), served[i][0].Usage!.CompletionTokens);
        }
        Assert.True(served.SelectMany(s => s).Select(c => c.Text).Distinct().Count() > 12, "the samples should differ");
    }

    [Fact]
    public async Task A_request_past_the_context_is_refused_as_vllm_does()
    {
        var (model, tokenizer) = ModelStore.Load(dir.File("model"), "float32", "cpu");
        using var _ = model;
        using var backend = new EngineBackend(model, tokenizer, maxBatchSequences: 8, maxModelLen: 64);
        var error = await Assert.ThrowsAsync<StepDpo.Core.StepDpoException>(() =>
            backend.CompleteAsync(new CompletionRequest("hello", 1, 0, 1, 60, [], null), CancellationToken.None));
        Assert.Contains("maximum context length is 64 tokens", error.Message);
        IReadOnlyList<Completion> ok = await backend.CompleteAsync(new CompletionRequest("hello", 1, 0, 1, 8, [], null), CancellationToken.None);
        Assert.InRange(ok[0].Usage!.CompletionTokens, 1, 8);
    }
}
