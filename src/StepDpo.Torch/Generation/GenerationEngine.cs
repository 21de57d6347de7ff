using StepDpo.Text;
using StepDpo.Torch.Model;
using static TorchSharp.torch;

namespace StepDpo.Torch.Generation;

/// <summary>
/// Batched sampling with a KV cache. Prompts of different lengths are left-padded into one batch (positions count
/// real tokens only, the mask hides the padding); the prompt batch is prefilled once and its cache copied for the
/// N samples of each prompt; finished sequences are dropped from the batch as they end.
/// Each sequence draws from its own generator seeded by (seed, prompt index, sample index), so results are the
/// same for a seed whatever the thread count.
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

        // Similar lengths together wastes less padding; the order of the output is restored below.
        var order = Enumerable.Range(0, prompts.Count).OrderBy(i => prompts[i].Length).ToList();
        int promptsPerBatch = Math.Max(1, options.MaxBatchSize / options.N);
        var results = new Completion[prompts.Count * options.N];
        var tracker = new ProgressTracker(progress, results.Length);
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var noGrad = no_grad();
            foreach (var chunk in order.Chunk(promptsPerBatch))
            {
                ct.ThrowIfCancellationRequested();
                var batch = new DecodeBatch(model, tokenizer, options, eos, tracker);
                foreach (var c in batch.Run(chunk, prompts, ct)) results[c.PromptIndex * options.N + c.SampleIndex] = c;
            }
        }
        finally { model.train(wasTraining); }
        return results;
    }

    internal sealed class ProgressTracker(IProgress<GenerationProgress>? progress, int total)
    {
        int finished;
        long tokens;
        public void Step(int newTokens, int newlyFinished)
        {
            tokens += newTokens; finished += newlyFinished;
            progress?.Report(new GenerationProgress(finished, total, tokens));
        }
    }
}
