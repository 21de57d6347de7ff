using StepDpo.Text;
using StepDpo.Torch.Model;
using static TorchSharp.torch;

namespace StepDpo.Torch.Generation;

/// <summary>One batch of prompts decoded together: prefill, copy per sample, decode until every sequence ends.</summary>
sealed class DecodeBatch(CausalLM model, ITokenizer? tokenizer, SamplingOptions options, HashSet<int> eos,
    GenerationEngine.ProgressTracker tracker)
{
    sealed class Sequence(int prompt, int sample, int[] promptIds, SplitMix64 rng)
    {
        public readonly int Prompt = prompt, Sample = sample;
        public readonly int[] PromptIds = promptIds;
        public readonly SplitMix64 Rng = rng;
        public readonly List<int> Tokens = new();
        public readonly List<float> Logprobs = new();
        public FinishReason? Finish;
        public int StopAt = -1; // index in the decoded text where a stop string begins
    }

    readonly TokenSampler sampler = new(options);
    readonly int maxStopLength = options.StopStrings.Count == 0 ? 0 : options.StopStrings.Max(s => s.Length);

    public IEnumerable<Completion> Run(int[] promptIndices, IReadOnlyList<int[]> prompts, CancellationToken ct)
    {
        var sequences = promptIndices
            .SelectMany(p => Enumerable.Range(0, options.N).Select(s =>
                new Sequence(p, s, prompts[p], new SplitMix64(options.PromptSeeds is { } seeds
                    ? SeedFor(seeds[p], 0, s) : SeedFor(options.Seed, p, s)))))
            .ToList();
        if (options.UseKvCache) DecodeWithCache(promptIndices.Select(p => prompts[p]).ToList(), sequences, ct);
        else DecodeWithoutCache(sequences, ct);
        return sequences.Select(ToCompletion);
    }

    static ulong SeedFor(ulong seed, int prompt, int sample)
    {
        var mix = new SplitMix64(seed ^ ((ulong)prompt * 0x9E3779B97F4A7C15UL) ^ ((ulong)sample << 40));
        return mix.NextULong();
    }

    void DecodeWithCache(List<int[]> batchPrompts, List<Sequence> sequences, CancellationToken ct)
    {
        int promptCount = batchPrompts.Count, longest = batchPrompts.Max(p => p.Length);
        var device = model.Device;
        var cache = new KvCache(model.Config, promptCount, longest + options.MaxNewTokens, model.DType, device);
        Tensor logits, keyValid;
        try
        {
            using (var scope = NewDisposeScope())
            {
                var (ids, valid) = DecodeInputs.LeftPad(batchPrompts, longest, device);
                logits = model.ForwardLast(ids, DecodeInputs.Positions(valid), DecodeInputs.PrefillMask(valid), cache);
                keyValid = valid;
                if (options.N > 1)
                {
                    // Every sample of a prompt starts from the same prefill: copy its cache row N times.
                    var rows = arange(promptCount, dtype: ScalarType.Int64, device: device).repeat_interleave(options.N);
                    var copied = cache.Select(rows);
                    cache.Dispose();
                    cache = copied;
                    logits = logits.index_select(0, rows);
                    keyValid = valid.index_select(0, rows);
                }
                logits.MoveToOuterDisposeScope();
                keyValid.MoveToOuterDisposeScope();
            }
            var active = Enumerable.Range(0, sequences.Count).ToList();
            while (true)
            {
                ct.ThrowIfCancellationRequested();
                var stillActive = SampleStep(logits, active, sequences);
                logits.Dispose();
                if (stillActive.Count == 0) break;
                using var scope = NewDisposeScope();
                var previousValid = keyValid; // lives outside the scope: disposed by hand below
                if (stillActive.Count < active.Count)
                {
                    // Drop finished rows from the cache so later steps cost only what is still running.
                    var keep = tensor(stillActive.Select(a => (long)active.IndexOf(a)).ToArray(), device: device);
                    var smaller = cache.Select(keep);
                    cache.Dispose();
                    cache = smaller;
                    keyValid = keyValid.index_select(0, keep);
                }
                active = stillActive;
                var next = tensor(active.Select(a => (long)sequences[a].Tokens[^1]).ToArray(), device: device).unsqueeze(1);
                var nextPositions = tensor(active.Select(a => (long)(sequences[a].PromptIds.Length + sequences[a].Tokens.Count - 1))
                    .ToArray(), device: device).unsqueeze(1);
                keyValid = DecodeInputs.Extend(keyValid);
                logits = model.ForwardLast(next, nextPositions, DecodeInputs.StepMask(keyValid), cache).MoveToOuterDisposeScope();
                keyValid.MoveToOuterDisposeScope();
                previousValid.Dispose();
            }
            keyValid.Dispose();
        }
        finally { cache.Dispose(); }
    }

    /// <summary>The baseline: every step runs the full (left-padded) sequences again, no cache.</summary>
    void DecodeWithoutCache(List<Sequence> sequences, CancellationToken ct)
    {
        var active = Enumerable.Range(0, sequences.Count).ToList();
        while (active.Count > 0)
        {
            ct.ThrowIfCancellationRequested();
            Tensor logits;
            using (var scope = NewDisposeScope())
            {
                var rows = active.Select(a => sequences[a].PromptIds.Concat(sequences[a].Tokens).ToArray()).ToList();
                int longest = rows.Max(r => r.Length);
                var (ids, valid) = DecodeInputs.LeftPad(rows, longest, model.Device);
                var hidden = model.HiddenStates(ids, DecodeInputs.Positions(valid), DecodeInputs.PrefillMask(valid), null);
                logits = model.Logits(hidden.select(1, -1)).MoveToOuterDisposeScope();
            }
            active = SampleStep(logits, active, sequences);
            logits.Dispose();
        }
    }

    /// <summary>Samples one token for each active row of <paramref name="logits"/> [A, V]; returns those still running.
    /// log Σ exp is computed by torch for the whole batch; greedy decoding never copies the logits to managed memory.</summary>
    List<int> SampleStep(Tensor logits, List<int> active, List<Sequence> sequences)
    {
        // Temporaries (logsumexp before its cast, unsqueeze views) belong to this scope, not to the finalizer thread.
        using var scope = NewDisposeScope();
        int vocab = (int)logits.shape[1], finished = 0;
        double[] logNormalisers;
        // Sampling runs on the host with each sequence's own generator (results independent of the device), so the
        // normalisers and the logits come over once per step; greedy decoding copies only the chosen ids and logits.
        using (var lse = logits.logsumexp(1).to(ScalarType.Float64).cpu()) logNormalisers = lse.data<double>().ToArray();
        int[] greedyTokens = [];
        float[] greedyLogits = [], values = [];
        if (options.Temperature == 0)
        {
            using var argmax = logits.argmax(1);
            using var best = logits.gather(1, argmax.unsqueeze(1)).squeeze(1);
            greedyTokens = argmax.cpu().data<long>().Select(x => (int)x).ToArray();
            greedyLogits = best.cpu().data<float>().ToArray();
        }
        else values = logits.cpu().data<float>().ToArray();
        var stillActive = new List<int>(active.Count);
        for (int row = 0; row < active.Count; row++)
        {
            var s = sequences[active[row]];
            var (token, logprob) = options.Temperature == 0
                ? (greedyTokens[row], (float)(greedyLogits[row] - logNormalisers[row]))
                : sampler.Sample(values.AsSpan(row * vocab, vocab), s.Rng, logNormalisers[row]);
            s.Tokens.Add(token);
            s.Logprobs.Add(logprob);
            if (eos.Contains(token)) s.Finish = FinishReason.Eos;
            else if (maxStopLength > 0 && FindStop(s) is int at) { s.Finish = FinishReason.Stop; s.StopAt = at; }
            else if (s.Tokens.Count >= options.MaxNewTokens) s.Finish = FinishReason.Length;
            if (s.Finish is null) stillActive.Add(active[row]); else finished++;
        }
        tracker.Step(active.Count, finished);
        return stillActive;
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

    Completion ToCompletion(Sequence s)
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
