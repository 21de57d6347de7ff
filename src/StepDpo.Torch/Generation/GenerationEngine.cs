using StepDpo.Text;
using StepDpo.Torch.Model;
using static TorchSharp.torch;

namespace StepDpo.Torch.Generation;

/// <summary>
/// Batched sampling with a KV cache and continuous batching (<see cref="DecodeScheduler"/>): up to
/// <see cref="SamplingOptions.MaxBatchSize"/> sequences decode together, a finished sequence's slot goes to a waiting
/// prompt, prompts sharing a prefix prefill it once and the N samples of a prompt share its prefill. Prompts of
/// different lengths are left-padded (positions count real tokens only, the mask hides the padding).
/// Each sequence draws from its own generator seeded by (seed, prompt index, sample index), so results are the
/// same for a seed whatever the thread count or the batch a sequence ran in.
/// </summary>
public sealed class GenerationEngine(CausalLM model, ITokenizer? tokenizer = null)
{
    /// <summary>Encodes the prompts (plus BOS when the tokenizer has one and <see cref="SamplingOptions.AddBos"/>)
    /// and generates N completions per prompt, ordered by prompt then sample.</summary>
    public IReadOnlyList<Completion> Generate(IReadOnlyList<string> prompts, SamplingOptions options,
        IProgress<GenerationProgress>? progress = null, CancellationToken ct = default)
    {
        if (tokenizer is null) throw new InvalidOperationException("text prompts need a tokenizer");
        var ids = prompts.Select(p => Encode(tokenizer, p, options.AddBos)).ToList();
        return GenerateIds(ids, options, progress, ct);
    }

    public static int[] Encode(ITokenizer tokenizer, string text, bool addBos)
    {
        var ids = tokenizer.Encode(text);
        return addBos && tokenizer.BosId is int bos && (ids.Length == 0 || ids[0] != bos) ? [bos, .. ids] : ids;
    }

    /// <summary>Generation from token ids; text is decoded when a tokenizer was given.</summary>
    public IReadOnlyList<Completion> GenerateIds(IReadOnlyList<int[]> prompts, SamplingOptions options,
        IProgress<GenerationProgress>? progress = null, CancellationToken ct = default)
    {
        options.Validate();
        if (options.PromptSeeds is { } seeds && seeds.Count != prompts.Count)
            throw new ArgumentException($"{seeds.Count} prompt seeds for {prompts.Count} prompts");
        for (int i = 0; i < prompts.Count; i++)
        {
            if (prompts[i].Length == 0) throw new ArgumentException($"prompt {i} is empty (no tokens to condition on)");
            foreach (int id in prompts[i])
                if (id < 0 || id >= model.VocabSize)
                    throw new ArgumentException($"prompt {i}: token id {id} is outside the vocabulary (size {model.VocabSize})");
        }
        if (options.StopStrings.Count > 0 && tokenizer is null)
            throw new InvalidOperationException("stop strings need a tokenizer");
        var eos = new HashSet<int>(options.IgnoreEos ? [] : options.EosIds ?? tokenizer?.EosIds ?? model.Config.EosTokenIds);

        var results = new Completion[prompts.Count * options.N];
        var tracker = new ProgressTracker(progress, results.Length);
        SequenceSampler NewSampler() => new(tokenizer, options, eos, tracker);
        var sampler = NewSampler();
        var samples = Enumerable.Range(0, prompts.Count)
            .Select(p => Enumerable.Range(0, options.N).Select(s => new Sequence(p, s, prompts[p], new SplitMix64(
                options.PromptSeeds is { } seeds ? SeedFor(seeds[p], 0, s) : SeedFor(options.Seed, p, s)))).ToArray())
            .ToList();
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var noGrad = no_grad();
            if (options.UseKvCache) new DecodeScheduler(model, NewSampler, options).Run(samples, prompts, ct);
            else RecomputeEachStep(samples.SelectMany(s => s).ToList(), sampler, options, ct);
        }
        finally { model.train(wasTraining); }
        foreach (var s in samples.SelectMany(s => s)) results[s.Prompt * options.N + s.Sample] = sampler.ToCompletion(s);
        return results;
    }

    static ulong SeedFor(ulong seed, int prompt, int sample)
    {
        var mix = new SplitMix64(seed ^ ((ulong)prompt * 0x9E3779B97F4A7C15UL) ^ ((ulong)sample << 40));
        return mix.NextULong();
    }

    /// <summary>The baseline without a KV cache: every step runs the whole (left-padded) sequences of a static batch
    /// again.</summary>
    void RecomputeEachStep(List<Sequence> sequences, SequenceSampler sampler, SamplingOptions options, CancellationToken ct)
    {
        foreach (var chunk in sequences.Chunk(Math.Max(options.MaxBatchSize, options.N)))
        {
            var active = chunk.ToList();
            while (active.Count > 0)
            {
                ct.ThrowIfCancellationRequested();
                using (var scope = NewDisposeScope())
                {
                    var rows = active.Select(s => s.PromptIds.Concat(s.Tokens).ToArray()).ToList();
                    var (ids, valid) = DecodeInputs.LeftPad(rows, rows.Max(r => r.Length), model.Device);
                    var hidden = model.HiddenStates(ids, DecodeInputs.Positions(valid), DecodeInputs.PrefillMask(valid), null);
                    sampler.Sample(model.Logits(hidden.select(1, -1)), active);
                }
                active = active.Where(s => s.Finish is null).ToList();
            }
        }
    }

    internal sealed class ProgressTracker(IProgress<GenerationProgress>? progress, int total)
    {
        int finished;
        long tokens;
        readonly Lock gate = new(); // workers report from their own threads

        public void Step(int newTokens, int newlyFinished)
        {
            lock (gate)
            {
                tokens += newTokens; finished += newlyFinished;
                progress?.Report(new GenerationProgress(finished, total, tokens));
            }
        }
    }
}
