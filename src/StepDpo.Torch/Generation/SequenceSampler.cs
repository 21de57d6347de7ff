using StepDpo.Text;
using static TorchSharp.torch;

namespace StepDpo.Torch.Generation;

/// <summary>One sequence being generated: sample <see cref="Sample"/> of prompt <see cref="Prompt"/>, with its own
/// generator, so what it draws does not depend on which other sequences share its batch.</summary>
sealed class Sequence(int prompt, int sample, int[] promptIds, SplitMix64 rng)
{
    public readonly int Prompt = prompt, Sample = sample;
    public readonly int[] PromptIds = promptIds;
    public readonly SplitMix64 Rng = rng;
    public readonly List<int> Tokens = new();
    public readonly List<float> Logprobs = new();
    public FinishReason? Finish;
    public int StopAt = -1; // index in the decoded text where a stop string begins

    /// <summary>Position of the last token (prompt and generated tokens counted from 0).</summary>
    public int LastPosition => PromptIds.Length + Tokens.Count - 1;
}

/// <summary>
/// Draws each running sequence's next token from a step's logits and decides when it ends (EOS, a stop string, the
/// token budget); turns a finished sequence into its <see cref="Completion"/>.
/// </summary>
sealed class SequenceSampler(ITokenizer? tokenizer, SamplingOptions options, HashSet<int> eos,
    GenerationEngine.ProgressTracker tracker)
{
    readonly TokenSampler sampler = new(options);
    readonly int maxStopLength = options.StopStrings.Count == 0 ? 0 : options.StopStrings.Max(s => s.Length);

    /// <summary>Samples one token for each unfinished sequence of <paramref name="rows"/> from its row of
    /// <paramref name="logits"/> [rows, V]; finished rows (still in the batch until it is compacted) are skipped.
    /// log Σ exp is computed by torch for the whole batch; greedy decoding takes the argmax there too and copies only
    /// the chosen ids and logits, sampling copies the logits to the host, where each sequence's own generator draws.</summary>
    public void Sample(Tensor logits, IReadOnlyList<Sequence> rows)
    {
        // Temporaries (logsumexp before its cast, unsqueeze views) belong to this scope, not to the finalizer thread.
        using var scope = NewDisposeScope();
        int vocab = (int)logits.shape[1], n = rows.Count, finished = 0, sampled = 0;
        var lse = logits.logsumexp(1).to(ScalarType.Float64);
        double[] host; // log Σ exp per row, then for greedy decoding the best logit and its token id per row
        float[] values = [];
        if (options.Temperature == 0)
        {
            var (best, argmax) = logits.max(1);
            using var all = cat([lse, best.to(ScalarType.Float64), argmax.to(ScalarType.Float64)]).cpu();
            host = all.data<double>().ToArray();
        }
        else
        {
            using (var all = lse.cpu()) host = all.data<double>().ToArray();
            values = logits.cpu().data<float>().ToArray();
        }
        for (int row = 0; row < n; row++)
        {
            var s = rows[row];
            if (s.Finish is not null) continue;
            var (token, logprob) = options.Temperature == 0
                ? ((int)host[2 * n + row], (float)(host[n + row] - host[row]))
                : sampler.Sample(values.AsSpan(row * vocab, vocab), s.Rng, host[row]);
            sampled++;
            s.Tokens.Add(token);
            s.Logprobs.Add(logprob);
            if (eos.Contains(token)) s.Finish = FinishReason.Eos;
            else if (maxStopLength > 0 && FindStop(s) is int at) { s.Finish = FinishReason.Stop; s.StopAt = at; }
            else if (s.Tokens.Count >= options.MaxNewTokens) s.Finish = FinishReason.Length;
            if (s.Finish is not null) finished++;
        }
        tracker.Step(sampled, finished);
    }

    /// <summary>Looks for a stop string in the text of the last few tokens (enough to hold the longest stop string),
    /// and when found, returns where it starts in the full decoded text.</summary>
    int? FindStop(Sequence s)
    {
        int tail = Math.Min(s.Tokens.Count, maxStopLength + 8);
        var recent = tokenizer!.Decode(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(s.Tokens)[^tail..]);
        if (!options.StopStrings.Any(recent.Contains)) return null;
        var text = tokenizer.Decode(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(s.Tokens));
        var hits = options.StopStrings.Select(stop => text.IndexOf(stop, StringComparison.Ordinal)).Where(i => i >= 0);
        return hits.Any() ? hits.Min() : null;
    }

    public Completion ToCompletion(Sequence s)
    {
        string text = "";
        if (tokenizer is not null)
        {
            var ids = s.Finish == FinishReason.Eos ? s.Tokens.Take(s.Tokens.Count - 1).ToArray() : s.Tokens.ToArray();
            text = tokenizer.Decode(ids);
            if (s.StopAt >= 0) text = text[..s.StopAt];
        }
        return new Completion(s.Prompt, s.Sample, text, s.Tokens.ToArray(), s.Logprobs.ToArray(), s.Finish!.Value);
    }
}
