using StepDpo.Stages.Backends;
using StepDpo.Stages.Records;

namespace StepDpo.Stages.Sampling;

/// <summary>An OpenAI-compatible completions server (vLLM, SGLang, TGI): one request per prompt asking for its N
/// samples, many requests in flight; the client retries with backoff.</summary>
public sealed class RemoteSampler(ICompletionBackend backend, int concurrency) : ISampler
{
    public int PreferredChunk => System.Math.Max(1, concurrency) * 4;

    public async Task<IReadOnlyList<IReadOnlyList<string>>> SampleAsync(IReadOnlyList<SamplePrompt> prompts, SampleParams p,
        Action<int>? onSequencesDone, CancellationToken ct)
    {
        var results = new IReadOnlyList<string>[prompts.Count];
        using var gate = new SemaphoreSlim(System.Math.Max(1, concurrency));
        await Task.WhenAll(prompts.Select(async (q, i) =>
        {
            await gate.WaitAsync(ct);
            try
            {
                var request = new CompletionRequest(q.Text, p.N, p.Temperature, p.TopP, p.MaxNewTokens, p.Stop,
                    SeedDerivation.Derive(p.Seed, q.Id, 0));
                var completions = await backend.CompleteAsync(request, ct);
                results[i] = completions.Select(c => c.Text).ToList();
                onSequencesDone?.Invoke(p.N);
            }
            finally { gate.Release(); }
        }));
        return results;
    }

    public void Dispose() => (backend as IDisposable)?.Dispose();
}
