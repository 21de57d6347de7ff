namespace StepDpo.Stages.Sampling;

/// <summary>How to sample: n continuations per prompt. Stop strings end a continuation (not included).</summary>
public sealed record SampleParams(int N, double Temperature, double TopP, int MaxNewTokens, IReadOnlyList<string> Stop, long Seed);

/// <summary>A prompt with a stable id: the id (not the position in a batch) seeds its samples, so the same prompt
/// gets the same continuations however the work is batched or resumed.</summary>
public sealed record SamplePrompt(string Id, string Text);

/// <summary>Text continuations from a model: the local TorchSharp engine or an OpenAI-compatible server.</summary>
public interface ISampler : IDisposable
{
    /// <summary>Prompts per call that keep the sampler busy (a local batch, or the server's concurrency).</summary>
    int PreferredChunk { get; }

    /// <summary>Continuations per prompt, in prompt order, N each.</summary>
    Task<IReadOnlyList<IReadOnlyList<string>>> SampleAsync(IReadOnlyList<SamplePrompt> prompts, SampleParams p,
        Action<int>? onSequencesDone, CancellationToken ct);
}
