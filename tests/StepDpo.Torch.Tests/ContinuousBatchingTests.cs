using StepDpo.Torch.Checkpoints;
using StepDpo.Torch.Generation;
using StepDpo.Torch.Model;

namespace StepDpo.Torch.Tests;

/// <summary>The engine's scheduling (continuous batching, shared prefills) changes where a sequence runs, never what it
/// generates: each sequence has its own generator, and its keys, positions and logits are its own whatever its row.</summary>
public class ContinuousBatchingTests
{
    static readonly CharTokenizer Tokenizer = new();
    const string Stem = "Question: Ann has 7 apples and buys 5 more. How many now? Answer: Step 1: ";
    // Four prompts share a long stem (prefilled once); "Question: Bob" shares only its first 10 characters with it.
    static readonly string[] Prompts =
        [Stem + "7", Stem + "7 + 5", "x", Stem + "Ann", "Q: 2+3=?", Stem + "12", "Question: Bob has 3 pears."];

    static GenerationEngine Load(out CausalLM lm)
    {
        lm = Checkpoint.Load(Fixtures.Folder("qwen2-micro"));
        return new GenerationEngine(lm, Tokenizer);
    }

    // Two frequent tokens end a sequence, so sequences end at different steps and waiting prompts take their slots.
    static SamplingOptions Sampling(int n) =>
        new() { Temperature = 1.0, TopP = 0.95, N = n, MaxNewTokens = 40, Seed = 11, EosIds = [0, CharTokenizer.Eos], ContinuousBatching = true };

    [Fact]
    public void Completions_are_the_same_with_batch_size_one_and_sixty_four()
    {
        var engine = Load(out var lm);
        using var _ = lm;
        var alone = engine.Generate(Prompts, Sampling(1) with { MaxBatchSize = 1 });
        var together = engine.Generate(Prompts, Sampling(1) with { MaxBatchSize = 64 });
        AssertSame(alone, together);
        Assert.Contains(alone, c => c.FinishReason == FinishReason.Eos);
        Assert.Contains(alone, c => c.FinishReason == FinishReason.Length);
    }

    [Fact]
    public void Samples_are_the_same_in_continuous_and_static_batches_of_any_size()
    {
        var engine = Load(out var lm);
        using var _ = lm;
        var reference = engine.Generate(Prompts, Sampling(3) with { MaxBatchSize = 64 });
        AssertSame(reference, engine.Generate(Prompts, Sampling(3) with { MaxBatchSize = 4 }));
        AssertSame(reference, engine.Generate(Prompts, Sampling(3) with { MaxBatchSize = 7, ContinuousBatching = false }));
        Assert.InRange(reference.Select(c => c.TokenIds.Length).Distinct().Count(), 4, 40);
    }

    [Fact]
    public void A_shared_prefill_gives_the_tokens_and_logprobs_of_recomputing_each_prompt_whole()
    {
        var engine = Load(out var lm);
        using var _ = lm;
        var greedy = new SamplingOptions { Temperature = 0, MaxNewTokens = 16, IgnoreEos = true, MaxBatchSize = 3, ContinuousBatching = true };
        var shared = engine.Generate(Prompts, greedy);
        var recomputed = engine.Generate(Prompts, greedy with { UseKvCache = false });
        AssertSame(recomputed, shared);
    }

    [Fact]
    public void Prompts_sharing_a_long_enough_prefix_are_grouped_and_keep_a_token_of_their_own()
    {
        var ids = Prompts.Select(Tokenizer.Encode).ToList();
        var (group, prefix) = PromptPrefill.Groups(ids);
        int[] stem = [0, 1, 3, 5];
        Assert.Single(stem.Select(i => group[i]).Distinct());
        Assert.All(stem, i => Assert.Equal(Stem.Length, prefix[i]));
        Assert.All(new[] { 2, 4, 6 }, i => Assert.Equal(0, prefix[i])); // "Question: Bob" shares 10 < 16 characters
        Assert.Equal(4, group.Distinct().Count());
        // A prompt that is the whole common prefix of its group keeps its last token for the second forward.
        var (_, nested) = PromptPrefill.Groups([ids[0], ids[1]]);
        Assert.Equal([ids[0].Length - 1, ids[0].Length - 1], nested);
    }

    static void AssertSame(IReadOnlyList<Completion> expected, IReadOnlyList<Completion> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal((expected[i].PromptIndex, expected[i].SampleIndex), (actual[i].PromptIndex, actual[i].SampleIndex));
            Assert.Equal(expected[i].TokenIds, actual[i].TokenIds);
            Assert.Equal(expected[i].FinishReason, actual[i].FinishReason);
            double worst = expected[i].TokenLogprobs.Zip(actual[i].TokenLogprobs, (a, b) => Math.Abs(a - b)).DefaultIfEmpty(0).Max();
            Assert.True(worst < 1e-4, $"completion {i}: max |logprob difference| {worst:E2}");
        }
    }
}
