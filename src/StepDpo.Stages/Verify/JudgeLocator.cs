using StepDpo.Stages.Backends;

namespace StepDpo.Stages.Verify;

/// <param name="MaxAttempts">judge calls per solution before giving up on an unreadable answer</param>
/// <param name="Temperature">of the first call; 0 asks for the judge's most likely answer</param>
/// <param name="RetryTemperature">of the later calls: retrying at temperature 0 would mostly repeat the same unreadable answer</param>
/// <param name="NeutralIsError">the reference pipeline treats the first neutral-or-incorrect step as the first error</param>
public sealed record JudgeOptions(
    int MaxAttempts = 3,
    double Temperature = 0,
    double RetryTemperature = 0.7,
    double TopP = 1,
    int MaxTokens = 1024,
    long? Seed = null,
    bool NeutralIsError = true);

public enum JudgeOutcome
{
    /// <summary>A step was labelled neutral-or-incorrect.</summary>
    Located,
    /// <summary>The judge read every step it labelled as correct: it disagrees that the answer goes wrong.</summary>
    NoErrorFound,
    /// <summary>No attempt produced a readable decision; nothing is guessed.</summary>
    Unparseable,
}

/// <param name="Answers">the judge's raw answers, one per attempt</param>
/// <param name="Failures">why each unreadable answer was rejected</param>
/// <param name="Usage">tokens the judge reported for all attempts (zero when it reports none)</param>
public sealed record JudgeLocation(
    JudgeOutcome Outcome, int? FirstWrongStep, IReadOnlyList<StepLabel> Labels, IReadOnlyList<string> Answers, IReadOnlyList<string> Failures,
    TokenUsage Usage);

/// <summary>Counts over all solutions judged by one locator, for the stage's stats.</summary>
public sealed class JudgeStats
{
    internal long calls, unparseable, gaveUp;
    public long Calls => Interlocked.Read(ref calls);
    /// <summary>Answers that could not be read (each was retried while attempts were left).</summary>
    public long Unparseable => Interlocked.Read(ref unparseable);
    /// <summary>Solutions left without a verdict after every attempt.</summary>
    public long GaveUp => Interlocked.Read(ref gaveUp);
}

/// <summary>First-error localisation by a judge model behind an OpenAI-compatible endpoint, as the reference
/// pipeline did with GPT-4o: render <see cref="JudgePrompt"/>, read the decision with
/// <see cref="JudgeVerdictParser"/>, retry unreadable answers up to <see cref="JudgeOptions.MaxAttempts"/> times.
/// Transport faults are the backend's to retry; an answer that labels steps the solution does not have is unreadable.</summary>
public sealed class JudgeLocator(ICompletionBackend judge, JudgeOptions options)
{
    public JudgeStats Stats { get; } = new();

    public async Task<JudgeLocation> LocateAsync(string problem, string correctSolution, IReadOnlyList<string> steps, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxAttempts, 1);
        var prompt = JudgePrompt.Render(problem, correctSolution, steps);
        var answers = new List<string>();
        var failures = new List<string>();
        var usage = TokenUsage.Zero;
        for (var attempt = 0; attempt < options.MaxAttempts; attempt++)
        {
            var request = new CompletionRequest(prompt, 1, attempt == 0 ? options.Temperature : options.RetryTemperature,
                options.TopP, options.MaxTokens, [], options.Seed is { } s ? s + attempt : null);
            Interlocked.Increment(ref Stats.calls);
            var completion = (await judge.CompleteAsync(request, ct).ConfigureAwait(false))[0];
            var answer = completion.Text;
            usage += completion.Usage ?? TokenUsage.Zero;
            answers.Add(answer);
            var verdict = JudgeVerdictParser.Parse(answer);
            var failure = verdict.Failure
                ?? (verdict.Labels!.Count > steps.Count ? $"labels {verdict.Labels.Count} steps but the answer has {steps.Count}" : null);
            if (failure is null)
            {
                var first = verdict.FirstError(options.NeutralIsError);
                return new JudgeLocation(first is null ? JudgeOutcome.NoErrorFound : JudgeOutcome.Located, first, verdict.Labels!, answers, failures, usage);
            }
            Interlocked.Increment(ref Stats.unparseable);
            failures.Add(failure);
        }
        Interlocked.Increment(ref Stats.gaveUp);
        return new JudgeLocation(JudgeOutcome.Unparseable, null, [], answers, failures, usage);
    }
}
