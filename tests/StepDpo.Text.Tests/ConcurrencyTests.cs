namespace StepDpo.Text.Tests;

public class ConcurrencyTests
{
    [Fact]
    public void Encoding_from_many_threads_gives_the_same_ids_as_one_thread()
    {
        // A fresh tokenizer so that the threads race to fill the pre-token cache.
        var tokenizer = BpeTokenizer.FromFile(Fixtures.QwenJsonGz);
        var rows = Fixtures.ReadJsonl("qwen-encode.jsonl")
            .Select(r => (Text: r.GetProperty("text").GetString()!, Ids: Fixtures.Ids(r.GetProperty("ids")))).ToArray();
        var mismatches = 0;
        Parallel.For(0, rows.Length * 4, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            var (text, ids) = rows[i % rows.Length];
            if (!tokenizer.Encode(text).AsSpan().SequenceEqual(ids)) Interlocked.Increment(ref mismatches);
        });
        Assert.Equal(0, mismatches);
    }

    [Fact]
    public void Generation_config_eos_ids_are_added_to_the_stop_set()
    {
        var dir = Fixtures.NewTempDir();
        ByteTokenizer.WriteTokenizerJson(dir);
        File.WriteAllText(Path.Combine(dir, "generation_config.json"), """{"eos_token_id": [257, 256]}""");
        Assert.Equal([256, 257, 258], Tokenizers.Load(dir).EosIds);
    }
}
