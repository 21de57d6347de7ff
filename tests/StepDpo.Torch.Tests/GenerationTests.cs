using StepDpo.Torch.Checkpoints;
using StepDpo.Torch.Generation;
using StepDpo.Torch.Model;

namespace StepDpo.Torch.Tests;

public class GenerationTests
{
    static readonly string[] Prompts = ["Q: 2+3=?", "A much longer prompt: what is 12*7?", "x", "Step 1:"];
    static readonly CharTokenizer Tokenizer = new();

    static GenerationEngine Load(string model, out CausalLM lm)
    {
        lm = Checkpoint.Load(Fixtures.Folder(model));
        return new GenerationEngine(lm, Tokenizer);
    }

    [Theory]
    [InlineData("qwen2-micro")]
    [InlineData("llama-micro")]
    public void Kv_cache_gives_the_same_greedy_tokens_as_recomputing(string model)
    {
        var generator = Load(model, out var lm);
        using var _ = lm;
        var options = new SamplingOptions { Temperature = 0, MaxNewTokens = 24, IgnoreEos = true };
        var cached = generator.Generate(Prompts, options);
        var recomputed = generator.Generate(Prompts, options with { UseKvCache = false });
        for (int i = 0; i < Prompts.Length; i++)
        {
            Assert.Equal(recomputed[i].TokenIds, cached[i].TokenIds);
            AssertClose(recomputed[i].TokenLogprobs, cached[i].TokenLogprobs, 1e-4);
            Assert.Equal(FinishReason.Length, cached[i].FinishReason);
            Assert.Equal(24, cached[i].TokenIds.Length);
        }
    }

    [Fact]
    public void Batching_and_padding_do_not_change_a_prompts_result()
    {
        var generator = Load("llama-micro", out var lm);
        using var _ = lm;
        var options = new SamplingOptions { Temperature = 0, MaxNewTokens = 16, IgnoreEos = true };
        var together = generator.Generate(Prompts, options);
        for (int i = 0; i < Prompts.Length; i++)
        {
            var alone = generator.Generate([Prompts[i]], options)[0];
            Assert.Equal(alone.TokenIds, together[i].TokenIds);
            AssertClose(alone.TokenLogprobs, together[i].TokenLogprobs, 1e-4);
        }
    }

    [Theory]
    [InlineData("qwen2-micro")]
    [InlineData("llama-micro")]
    public void Generated_logprobs_equal_scored_logprobs(string model)
    {
        // Generation reports log p(token) under the model; scoring the same completion must agree.
        var generator = Load(model, out var lm);
        using var _ = lm;
        var completions = generator.Generate(Prompts, new SamplingOptions { Temperature = 1, MaxNewTokens = 20, Seed = 3, IgnoreEos = true });
        var scored = Scorer.Score(lm, Prompts.Select((p, i) => (Tokenizer.Encode(p), completions[i].TokenIds)).ToList());
        for (int i = 0; i < Prompts.Length; i++)
        {
            AssertClose(completions[i].TokenLogprobs, scored[i].TokenLogprobs, 1e-4);
            Assert.Equal(completions[i].LogProb, scored[i].LogProb, 3);
        }
    }

    [Theory]
    [InlineData("qwen2-micro")]
    [InlineData("llama-micro")]
    public void Scorer_matches_reference(string model)
    {
        using var lm = Checkpoint.Load(Fixtures.Folder(model));
        int[] Ids(string name) { using var t = Fixtures.Expected(model, name); return t.data<long>().Select(x => (int)x).ToArray(); }
        using var expected = Fixtures.Expected(model, "score.token_logprobs");
        var pair = (Ids("score.prompt_ids"), Ids("score.completion_ids"));
        // Alone and in a batch with a longer and a shorter pair (right padding must not matter).
        var scored = Scorer.Score(lm, [pair, (pair.Item1, pair.Item2[..2]), (pair.Item2, pair.Item1.Concat(pair.Item1).ToArray())], maxBatchTokens: 1000);
        AssertClose(expected.data<float>().ToArray(), scored[0].TokenLogprobs, 1e-4);
        AssertClose(expected.data<float>().ToArray()[..2], scored[1].TokenLogprobs, 1e-4);
        Assert.Equal(scored[0].TokenLogprobs.Sum(x => (double)x), scored[0].LogProb, 6);
    }

    [Fact]
    public void Sampling_is_deterministic_per_seed()
    {
        var generator = Load("qwen2-micro", out var lm);
        using var _ = lm;
        var options = new SamplingOptions { Temperature = 1, TopP = 0.95, TopK = 50, N = 3, MaxNewTokens = 20, Seed = 42, IgnoreEos = true };
        var first = generator.Generate(Prompts, options);
        var second = generator.Generate(Prompts, options);
        var otherSeed = generator.Generate(Prompts, options with { Seed = 43 });
        Assert.Equal(first.Select(c => c.Text), second.Select(c => c.Text));
        Assert.Equal(first.SelectMany(c => c.TokenLogprobs), second.SelectMany(c => c.TokenLogprobs));
        Assert.NotEqual(first.Select(c => c.Text), otherSeed.Select(c => c.Text));
        // The n samples of a prompt differ from each other (they share the prefill, not the random stream).
        Assert.Equal(3, first.Where(c => c.PromptIndex == 0).Select(c => c.Text).Distinct().Count());
        Assert.Equal(Enumerable.Range(0, 12).Select(i => (i / 3, i % 3)), first.Select(c => (c.PromptIndex, c.SampleIndex)));
    }

    [Fact]
    public void Samples_do_not_depend_on_batch_size()
    {
        var generator = Load("llama-micro", out var lm);
        using var _ = lm;
        var options = new SamplingOptions { Temperature = 0.8, N = 4, MaxNewTokens = 12, Seed = 5, IgnoreEos = true };
        var wide = generator.Generate(Prompts, options with { MaxBatchSize = 64 });
        var narrow = generator.Generate(Prompts, options with { MaxBatchSize = 1 });
        Assert.Equal(wide.Select(c => c.Text), narrow.Select(c => c.Text));
    }

    [Fact]
    public void Top_k_one_and_tiny_top_p_are_greedy()
    {
        var generator = Load("qwen2-micro", out var lm);
        using var _ = lm;
        var greedy = generator.Generate(Prompts, new SamplingOptions { Temperature = 0, MaxNewTokens = 10, IgnoreEos = true });
        var topK = generator.Generate(Prompts, new SamplingOptions { Temperature = 1.5, TopK = 1, MaxNewTokens = 10, Seed = 9, IgnoreEos = true });
        var topP = generator.Generate(Prompts, new SamplingOptions { Temperature = 1.5, TopP = 1e-6, MaxNewTokens = 10, Seed = 9, IgnoreEos = true });
        Assert.Equal(greedy.Select(c => c.Text), topK.Select(c => c.Text));
        Assert.Equal(greedy.Select(c => c.Text), topP.Select(c => c.Text));
    }

    [Fact]
    public void Stop_string_cuts_the_text_and_ends_the_sequence()
    {
        var generator = Load("qwen2-micro", out var lm);
        using var _ = lm;
        var options = new SamplingOptions { Temperature = 0, MaxNewTokens = 30, IgnoreEos = true };
        var full = generator.Generate([Prompts[1]], options)[0].Text;
        string stop = full.Substring(6, 2);
        int at = full.IndexOf(stop, StringComparison.Ordinal);
        var stopped = generator.Generate([Prompts[1]], options with { StopStrings = ["never appears", stop] })[0];
        Assert.Equal(FinishReason.Stop, stopped.FinishReason);
        Assert.Equal(full[..at], stopped.Text);
        Assert.Equal(at + stop.Length, stopped.TokenIds.Length); // one character per token: stops right after it
    }

    [Fact]
    public void Eos_ends_the_sequence_and_is_not_in_the_text()
    {
        var generator = Load("llama-micro", out var lm);
        using var _ = lm;
        var options = new SamplingOptions { Temperature = 0, MaxNewTokens = 30, IgnoreEos = true };
        var full = generator.Generate([Prompts[0]], options)[0];
        int eos = full.TokenIds[5];
        int first = Array.IndexOf(full.TokenIds, eos);
        var ended = generator.Generate([Prompts[0]], options with { IgnoreEos = false, EosIds = [eos] })[0];
        Assert.Equal(FinishReason.Eos, ended.FinishReason);
        Assert.Equal(full.TokenIds[..(first + 1)], ended.TokenIds);
        Assert.Equal(Tokenizer.Decode(full.TokenIds[..first]), ended.Text);
    }

    [Fact]
    public void Progress_counts_every_token_and_sequence()
    {
        var generator = Load("qwen2-micro", out var lm);
        using var _ = lm;
        var reports = new List<GenerationProgress>();
        var completions = generator.Generate(Prompts, new SamplingOptions { N = 2, MaxNewTokens = 7, Seed = 1 },
            new SyncProgress<GenerationProgress>(reports.Add));
        Assert.Equal(8, reports[^1].FinishedSequences);
        Assert.Equal(8, reports[^1].TotalSequences);
        Assert.Equal(completions.Sum(c => c.TokenIds.Length), reports[^1].GeneratedTokens);
    }

    [Fact]
    public void Bad_options_and_prompts_are_rejected()
    {
        var generator = Load("qwen2-micro", out var lm);
        using var _ = lm;
        Assert.Throws<ArgumentException>(() => generator.Generate(Prompts, new SamplingOptions { TopP = 0 }));
        Assert.Throws<ArgumentException>(() => generator.GenerateIds([[1, 500]], new SamplingOptions()));
        Assert.Throws<ArgumentException>(() => generator.GenerateIds([[]], new SamplingOptions()));
    }

    static void AssertClose(float[] expected, float[] actual, double tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        double worst = expected.Zip(actual, (a, b) => Math.Abs(a - b)).DefaultIfEmpty(0).Max();
        Assert.True(worst < tolerance, $"max |difference| {worst:E2}");
    }
}

/// <summary>IProgress that reports on the calling thread (Progress&lt;T&gt; posts to the thread pool).</summary>
sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
