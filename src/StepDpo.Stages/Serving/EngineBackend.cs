using System.Collections.Concurrent;
using StepDpo.Core;
using StepDpo.Stages.Backends;
using StepDpo.Text;
using StepDpo.Torch.Generation;
using StepDpo.Torch.Model;
using EngineCompletion = StepDpo.Torch.Generation.Completion;
using Completion = StepDpo.Stages.Backends.Completion;

namespace StepDpo.Stages.Serving;

/// <summary>
/// The TorchSharp generation engine as an <see cref="ICompletionBackend"/> for concurrent callers (the HTTP server):
/// one worker thread runs the engine; requests that arrive while it is busy wait in a queue and are then run together,
/// one engine call per group of requests with the same sampling settings, so 16 clients share batched forward passes.
/// Each request keeps its own seed (the engine's per-prompt seed), so its samples do not depend on what it was
/// batched with, and are the same as the local backend's for the same seed.
/// </summary>
public sealed class EngineBackend : ICompletionBackend, IDisposable
{
    readonly GenerationEngine engine;
    readonly ITokenizer tokenizer;
    readonly int maxBatchSequences;
    readonly long defaultSeed;
    readonly BlockingCollection<Pending> queue = new();
    readonly Thread worker;

    /// <summary>Longest prompt + completion in tokens; longer requests are refused as vLLM does.</summary>
    public int MaxModelLen { get; }

    sealed record Pending(CompletionRequest Request, int[] PromptIds, int MaxNewTokens, TaskCompletionSource<IReadOnlyList<Completion>> Done, CancellationToken Ct);

    /// <param name="maxBatchSequences">most sequences (prompts x n) decoded together</param>
    /// <param name="defaultSeed">seed of requests that bring none</param>
    public EngineBackend(CausalLM model, ITokenizer tokenizer, int maxBatchSequences, int? maxModelLen = null, long defaultSeed = 0)
    {
        engine = new GenerationEngine(model, tokenizer);
        this.tokenizer = tokenizer;
        this.maxBatchSequences = System.Math.Max(1, maxBatchSequences);
        this.defaultSeed = defaultSeed;
        MaxModelLen = maxModelLen ?? model.Config.MaxPositionEmbeddings;
        worker = new Thread(Run) { IsBackground = true, Name = "stepdpo-engine" };
        worker.Start();
    }

    /// <summary>Requests waiting or running now (for tests and the log).</summary>
    public int Queued => queue.Count;

    public Task<IReadOnlyList<Completion>> CompleteAsync(CompletionRequest r, CancellationToken ct)
    {
        var ids = GenerationEngine.Encode(tokenizer, r.Prompt, addBos: true);
        if (ids.Length == 0) throw new StepDpoException("the prompt is empty (no tokens to condition on)");
        int room = MaxModelLen - ids.Length;
        int maxNew = r.MaxTokens == RequestBodies.RestOfContext ? room : r.MaxTokens;
        if (room < 1 || maxNew > room)
            throw new StepDpoException($"This model's maximum context length is {MaxModelLen} tokens. However, you requested " +
                $"{ids.Length + (long)maxNew} tokens ({ids.Length} in the prompt, {maxNew} for the completion).");
        var pending = new Pending(r, ids, maxNew, new TaskCompletionSource<IReadOnlyList<Completion>>(TaskCreationOptions.RunContinuationsAsynchronously), ct);
        queue.Add(pending, CancellationToken.None);
        return pending.Done.Task.WaitAsync(ct);
    }

    void Run()
    {
        foreach (var first in queue.GetConsumingEnumerable())
        {
            var batch = new List<Pending> { first };
            while (queue.TryTake(out var more)) batch.Add(more);
            foreach (var group in batch.Where(p => !p.Ct.IsCancellationRequested).GroupBy(p => Shape(p)))
                RunGroup(group.ToList());
            foreach (var p in batch.Where(p => p.Ct.IsCancellationRequested)) p.Done.TrySetCanceled(p.Ct);
        }
    }

    /// <summary>Requests that can share one engine call: the same sampling settings (seeds may differ).</summary>
    static string Shape(Pending p) => string.Join('\u0001', p.Request.N, p.Request.Temperature, p.Request.TopP, p.MaxNewTokens,
        string.Join('\u0002', p.Request.Stop));

    void RunGroup(List<Pending> group)
    {
        var r = group[0].Request;
        var options = new SamplingOptions
        {
            N = r.N,
            Temperature = r.Temperature,
            TopP = r.TopP,
            MaxNewTokens = group[0].MaxNewTokens,
            StopStrings = r.Stop,
            MaxBatchSize = System.Math.Max(maxBatchSequences, r.N),
            PromptSeeds = group.Select(p => (ulong)(p.Request.Seed ?? defaultSeed)).ToArray(),
        };
        try
        {
            var completions = engine.GenerateIds(group.Select(p => p.PromptIds).ToList(), options);
            for (int i = 0; i < group.Count; i++)
            {
                var mine = completions.Skip(i * r.N).Take(r.N).Select((c, j) => ToCompletion(c, j == 0 ? group[i].PromptIds.Length : 0)).ToList();
                group[i].Done.TrySetResult(mine);
            }
        }
        catch (Exception e)
        {
            var error = e as StepDpoException ?? new StepDpoException($"generation failed: {e.Message}", e);
            foreach (var p in group) p.Done.TrySetException(error);
        }
    }

    /// <summary>vLLM's words: "stop" for an end-of-sequence token or a stop string, "length" at max_tokens. The
    /// completion's tokens include a final EOS, as vLLM counts them.</summary>
    static Completion ToCompletion(EngineCompletion c, int promptTokens) => new(
        c.Text,
        c.FinishReason == FinishReason.Length ? "length" : "stop",
        c.TokenLogprobs.Select(x => (double)x).ToArray(),
        new TokenUsage(promptTokens, c.TokenIds.Length));

    public void Dispose()
    {
        queue.CompleteAdding();
        worker.Join();
        queue.Dispose();
    }
}
