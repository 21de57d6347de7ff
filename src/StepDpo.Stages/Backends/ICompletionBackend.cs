namespace StepDpo.Stages.Backends;

/// <summary>One text-completion request: the prompt is already rendered with its template (the completions API,
/// not chat), as the reference pipeline did with vLLM. <paramref name="N"/> continuations are sampled from it.</summary>
public sealed record CompletionRequest(
    string Prompt,
    int N,
    double Temperature,
    double TopP,
    int MaxTokens,
    IReadOnlyList<string> Stop,
    long? Seed);

/// <summary>One sampled continuation. <see cref="FinishReason"/> is the server's word ("stop", "length", ...);
/// <see cref="TokenLogprobs"/> is filled only when the backend was asked for log-probabilities. <see cref="Usage"/>
/// is what the continuation cost when the backend says so; a request's prompt is counted once, on its first
/// continuation, so the usages of a request's continuations add up to the request's.</summary>
public sealed record Completion(string Text, string FinishReason, IReadOnlyList<double>? TokenLogprobs = null, TokenUsage? Usage = null);

/// <summary>Tokens billed for a request (OpenAI's <c>usage</c>).</summary>
public sealed record TokenUsage(long PromptTokens, long CompletionTokens)
{
    public static readonly TokenUsage Zero = new(0, 0);
    public static TokenUsage operator +(TokenUsage a, TokenUsage b) => new(a.PromptTokens + b.PromptTokens, a.CompletionTokens + b.CompletionTokens);
}

/// <summary>Anything that turns a rendered prompt into n sampled continuations: the OpenAI-compatible HTTP client
/// here, or the local TorchSharp generation engine. Implementations return exactly <c>r.N</c> completions in index
/// order, or throw.</summary>
public interface ICompletionBackend
{
    Task<IReadOnlyList<Completion>> CompleteAsync(CompletionRequest r, CancellationToken ct);
}
