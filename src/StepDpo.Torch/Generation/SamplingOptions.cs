namespace StepDpo.Torch.Generation;

/// <summary>How to sample. Temperature 0 means greedy; TopK 0 and TopP 1 disable those filters. Order as in HF and
/// vLLM: temperature, then top-k, then top-p over what top-k kept.</summary>
public sealed record SamplingOptions
{
    public int MaxNewTokens { get; init; } = 256;
    public double Temperature { get; init; } = 1.0;
    public double TopP { get; init; } = 1.0;
    public int TopK { get; init; } = 0;
    /// <summary>Samples per prompt; they share the prompt's prefill (its KV cache is computed once and copied).</summary>
    public int N { get; init; } = 1;
    public ulong Seed { get; init; } = 0;
    /// <summary>One seed per prompt (in prompt order), replacing (Seed, prompt index): a prompt then gets the same samples
    /// whatever batch or call it lands in, which a resumable stage needs.</summary>
    public IReadOnlyList<ulong>? PromptSeeds { get; init; }
    /// <summary>Generation stops when the text contains one of these; the text is cut before it.</summary>
    public IReadOnlyList<string> StopStrings { get; init; } = [];
    /// <summary>Token ids that end a sequence; null: the tokenizer's EOS ids (or config.json's without a tokenizer).</summary>
    public IReadOnlyList<int>? EosIds { get; init; }
    /// <summary>Keep going past EOS (benchmarks that need a fixed length).</summary>
    public bool IgnoreEos { get; init; }
    /// <summary>Most sequences decoded together (prompts × N, at least N); bounds the KV cache memory. More prompts than
    /// fit wait and take the slots of sequences that end.</summary>
    public int MaxBatchSize { get; init; } = 32;
    /// <summary>Prepend the tokenizer's BOS to each text prompt (as HF tokenizers do for Llama) when it has one.</summary>
    public bool AddBos { get; init; } = true;
    /// <summary>False recomputes the whole sequence each step instead of using the KV cache (for benchmarks and
    /// equivalence tests; same results up to float rounding).</summary>
    public bool UseKvCache { get; init; } = true;
    /// <summary>True keeps the batch full: a finished sequence's slot goes to a waiting prompt, shared prefixes are
    /// prefilled once (<see cref="DecodeScheduler"/>). Off by default: on the pairs stage's rectification (tiny-ci, 556
    /// prompts x 4 samples, load 1-3) it took as many decode steps as static batches whose finished rows leave at once
    /// (2,954 vs 2,882: the lengths are alike) and each step cost more (rows start at different slots, so every step is
    /// masked over a longer key axis, plus the admissions' prefills and cache copies): 5,748 against 8,470 tokens/s
    /// (tests/StepDpo.Bench `scheduling`). False takes prompts in static batches (the next starts when this one's last
    /// sequence ends), each prompt prefilled alone.</summary>
    public bool ContinuousBatching { get; init; }
    /// <summary>Static batches decoded at once, each on its own CPU thread (<see cref="Devices.CpuWorkers"/>); the batches
    /// themselves do not depend on it, so neither does any result. 1 on a GPU.</summary>
    public int Workers { get; init; } = 1;

    public void Validate()
    {
        if (MaxNewTokens < 1) throw new ArgumentException($"max new tokens must be at least 1 (got {MaxNewTokens})");
        if (Temperature < 0) throw new ArgumentException($"temperature must be >= 0 (got {Temperature})");
        if (TopP is <= 0 or > 1) throw new ArgumentException($"top-p must be in (0, 1] (got {TopP})");
        if (TopK < 0) throw new ArgumentException($"top-k must be >= 0 (got {TopK})");
        if (N < 1) throw new ArgumentException($"n must be at least 1 (got {N})");
        if (Workers < 1) throw new ArgumentException($"workers must be at least 1 (got {Workers})");
        if (MaxBatchSize < 1) throw new ArgumentException($"max batch size must be at least 1 (got {MaxBatchSize})");
    }
}

public enum FinishReason { Eos, Stop, Length }

/// <summary>One generated sequence. <see cref="TokenLogprobs"/> are log p(token | context) under the model itself
/// (temperature 1, no filtering), what a reference/policy log-prob needs; the ids include a final EOS, the text
/// does not, and is cut before a stop string.</summary>
public sealed record Completion(int PromptIndex, int SampleIndex, string Text, int[] TokenIds, float[] TokenLogprobs,
    FinishReason FinishReason)
{
    public double LogProb => TokenLogprobs.Sum(x => (double)x);
}

/// <summary>Reported after each decode step.</summary>
public readonly record struct GenerationProgress(int FinishedSequences, int TotalSequences, long GeneratedTokens);
