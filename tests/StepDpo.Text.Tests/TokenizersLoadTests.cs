using System.IO.Compression;

namespace StepDpo.Text.Tests;

public class TokenizersLoadTests
{
    [Fact]
    public void Qwen_folder_with_instruct_config_has_no_bos_and_stops_on_im_end_and_endoftext()
    {
        var dir = Fixtures.NewTempDir();
        using (var gz = new GZipStream(File.OpenRead(Fixtures.QwenJsonGz), CompressionMode.Decompress))
        using (var file = File.Create(Path.Combine(dir, "tokenizer.json"))) gz.CopyTo(file);
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"),
            """{"add_bos_token": false, "bos_token": null, "eos_token": "<|im_end|>", "pad_token": {"content": "<|endoftext|>", "special": true}}""");
        var tokenizer = Tokenizers.Load(dir);
        Assert.Null(tokenizer.BosId);
        Assert.Equal([151645, 151643], tokenizer.EosIds);
        Assert.Equal(151643, tokenizer.PadId);
        Assert.Equal(151669, tokenizer.VocabSize);
        Assert.Equal(151644, tokenizer.SpecialTokens["<|im_start|>"]);
        Assert.Equal("<|im_start|>", tokenizer.TokenToString(151644));
        Assert.Equal("Ġ", tokenizer.TokenToString(220));
        Assert.Null(tokenizer.TokenToString(-1));
        Assert.Null(tokenizer.TokenToId("no such token"));
    }

    [Fact]
    public void Loads_the_gzipped_file_directly_without_config()
    {
        var tokenizer = Fixtures.Qwen;
        Assert.Null(tokenizer.BosId);
        Assert.Empty(tokenizer.EosIds);
        Assert.True(tokenizer.Definition.Nfc);
        Assert.Equal(151387, tokenizer.Definition.Merges.Count);
    }

    [Fact]
    public void Config_naming_an_unknown_token_is_an_error_naming_file_and_key()
    {
        var dir = Fixtures.NewTempDir();
        ByteTokenizer.WriteTokenizerJson(dir);
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), """{"eos_token": "</s>"}""");
        var e = Assert.Throws<TokenizerFormatException>(() => Tokenizers.Load(dir));
        Assert.Contains("tokenizer_config.json: eos_token", e.Message);
        Assert.Contains("</s>", e.Message);
    }

    [Fact]
    public void Missing_folder_content_is_a_clear_error()
    {
        var e = Assert.Throws<FileNotFoundException>(() => Tokenizers.Load(Fixtures.NewTempDir()));
        Assert.Contains("no tokenizer.json", e.Message);
    }

    [Fact]
    public void Decoding_an_unknown_id_is_an_error()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => ByteTokenizer.Create().Decode([1, 999]));
    }
}
