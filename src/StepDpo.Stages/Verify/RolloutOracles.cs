using StepDpo.Stages.Backends;

namespace StepDpo.Stages.Verify;

/// <summary>Rollout oracles built on a completion backend.</summary>
public static class RolloutOracles
{
    /// <summary>Asks <paramref name="backend"/> for m continuations of the rendered prefix in one request and counts
    /// those that <paramref name="reachesAnswer"/> accepts (the grader, given prefix and continuation).</summary>
    /// <param name="request">the request for a prefix (prompt rendering, temperature, stop, seed); its N is replaced by m</param>
    public static RolloutOracle FromBackend(
        ICompletionBackend backend, Func<string, CompletionRequest> request, Func<string, string, bool> reachesAnswer) =>
        async (prefix, m, ct) =>
        {
            var completions = await backend.CompleteAsync(request(prefix) with { N = m }, ct).ConfigureAwait(false);
            return completions.Count(c => reachesAnswer(prefix, c.Text));
        };
}
