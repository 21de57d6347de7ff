namespace StepDpo.Text.Tests;

public class ByteTokenizerTests
{
    [Fact]
    public void Writes_exactly_the_files_hugging_face_was_checked_against()
    {
        var dir = Fixtures.NewTempDir();
        ByteTokenizer.WriteTokenizerJson(dir);
        foreach (var name in new[] { "tokenizer.json", "tokenizer_config.json" })
            Assert.Equal(File.ReadAllText(Fixtures.Path_($"byte-tokenizer/{name}")), File.ReadAllText(Path.Combine(dir, name)));
    }

    [Fact]
    public void Loaded_through_the_bpe_loader_matches_hugging_face_ids_and_decoding()
    {
        var dir = Fixtures.NewTempDir();
        ByteTokenizer.WriteTokenizerJson(dir);
        var tokenizer = Tokenizers.Load(dir);
        int checkedRows = 0;
        foreach (var row in Fixtures.ReadJsonl("byte-encode.jsonl"))
        {
            var ids = Fixtures.Ids(row.GetProperty("ids"));
            Assert.Equal(ids, tokenizer.Encode(row.GetProperty("text").GetString()!));
            Assert.Equal(row.GetProperty("decoded").GetString(), tokenizer.Decode(ids));
            Assert.Equal(row.GetProperty("decoded_skip").GetString(), tokenizer.Decode(ids, skipSpecialTokens: true));
            checkedRows++;
        }
        Assert.True(checkedRows >= 200);
    }

    [Fact]
    public void Ids_are_byte_values_and_specials_follow()
    {
        var tokenizer = ByteTokenizer.Create();
        Assert.Equal(ByteTokenizer.Size, tokenizer.VocabSize);
        Assert.Equal([0x61, 0xC3, 0xA9, ByteTokenizer.ImStart, 0x0A, ByteTokenizer.EndOfText], tokenizer.Encode("aé<|im_start|>\n<|endoftext|>"));
        Assert.Null(tokenizer.BosId);
        Assert.Equal([ByteTokenizer.EndOfText, ByteTokenizer.ImEnd], tokenizer.EosIds);
        Assert.Equal(ByteTokenizer.Pad, tokenizer.PadId);
        Assert.Equal(ByteTokenizer.Pad, tokenizer.TokenToId("<|pad|>"));
    }

    [Fact]
    public void Load_reads_eos_and_pad_from_the_written_config()
    {
        var dir = Fixtures.NewTempDir();
        ByteTokenizer.WriteTokenizerJson(dir);
        var tokenizer = Tokenizers.Load(Path.Combine(dir, "tokenizer.json"));
        Assert.Equal(ByteTokenizer.EndOfText, tokenizer.EosIds[0]);
        Assert.Contains(ByteTokenizer.ImEnd, tokenizer.EosIds);
        Assert.Equal(ByteTokenizer.Pad, tokenizer.PadId);
    }
}

public class AddedTokenOptionTests
{
    [Fact]
    public void Lstrip_rstrip_single_word_normalized_and_longest_match_behave_as_in_hugging_face()
    {
        // Fixtures/added-options/tokenizer.json: the byte tokenizer with NFC and extra added tokens (make-fixtures.mjs).
        var tokenizer = BpeTokenizer.FromFile(Fixtures.Path_("added-options/tokenizer.json"));
        int checkedRows = 0;
        foreach (var row in Fixtures.ReadJsonl("added-options-encode.jsonl"))
        {
            string text = row.GetProperty("text").GetString()!;
            var ids = Fixtures.Ids(row.GetProperty("ids"));
            Assert.True(ids.SequenceEqual(tokenizer.Encode(text)), $"{text}: expected [{string.Join(",", ids)}], got [{string.Join(",", tokenizer.Encode(text))}]");
            Assert.Equal(row.GetProperty("decoded").GetString(), tokenizer.Decode(ids));
            Assert.Equal(row.GetProperty("decoded_skip").GetString(), tokenizer.Decode(ids, skipSpecialTokens: true));
            checkedRows++;
        }
        Assert.Equal(25, checkedRows);
    }

    [Fact]
    public void An_added_token_id_that_hugging_face_would_reassign_is_refused()
    {
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Fixtures.Path_("byte-tokenizer/tokenizer.json")))!;
        json["added_tokens"]![3]!["id"] = 300;
        using var stream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(json.ToJsonString()));
        var e = Assert.Throws<TokenizerFormatException>(() => TokenizerJsonReader.Read(stream, "t.json"));
        Assert.Contains("added_tokens[3].id", e.Message);
        Assert.Contains("assigns 259", e.Message);
    }
}
