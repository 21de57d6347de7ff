using System.Text.Json;

namespace StepDpo.Text.Tests;

/// <summary>Ids and decoded text compared with the real Hugging Face `tokenizers` (fixtures from make-fixtures.mjs).</summary>
public class HuggingFaceParityTests
{
    [Fact]
    public void Qwen_encode_matches_hugging_face_on_every_fixture_text()
    {
        var rows = Fixtures.ReadJsonl("qwen-encode.jsonl").ToList();
        Assert.True(rows.Count > 400);
        AssertAllEncode(Fixtures.Qwen, rows);
    }

    [Fact]
    public void Qwen_decode_matches_hugging_face_including_invalid_utf8_and_skipped_specials()
    {
        var rows = Fixtures.ReadJsonl("qwen-decode.jsonl").ToList();
        Assert.True(rows.Count > 300);
        var failures = new List<string>();
        foreach (var row in rows)
        {
            var ids = Fixtures.Ids(row.GetProperty("ids"));
            string expected = row.GetProperty("text").GetString()!;
            string actual = Fixtures.Qwen.Decode(ids, row.GetProperty("skip_special").GetBoolean());
            if (actual != expected) failures.Add($"[{string.Join(",", ids)}]: expected {JsonSerializer.Serialize(expected)}, got {JsonSerializer.Serialize(actual)}");
        }
        Assert.True(failures.Count == 0, $"{failures.Count} of {rows.Count} differ:\n" + string.Join("\n", failures.Take(10)));
    }

    [Fact]
    public void Llama3_style_settings_match_hugging_face()
    {
        // The same vocabulary behind Llama-3's settings: no normaliser, digits in groups of three, ignore_merges,
        // merges written as "a b" strings. make-fixtures.mjs applies the same edit to produce the expected ids.
        var dir = Fixtures.NewTempDir();
        var path = Path.Combine(dir, "tokenizer.json");
        Llama3Style.Write(Fixtures.QwenJsonGz, path);
        var tokenizer = BpeTokenizer.FromFile(path);
        Assert.False(tokenizer.Definition.Nfc);
        Assert.True(tokenizer.Definition.IgnoreMerges);
        AssertAllEncode(tokenizer, Fixtures.ReadJsonl("llama3style-encode.jsonl").ToList());
    }

    [Fact]
    public void Decoding_an_encoding_gives_back_the_nfc_text()
    {
        foreach (var row in Fixtures.ReadJsonl("qwen-encode.jsonl"))
        {
            string text = row.GetProperty("text").GetString()!;
            Assert.Equal(Unicode.NfcNormalizer.Normalize(text), Fixtures.Qwen.Decode(Fixtures.Qwen.Encode(text)));
        }
    }

    internal static void AssertAllEncode(BpeTokenizer tokenizer, List<JsonElement> rows)
    {
        var failures = new List<string>();
        foreach (var row in rows)
        {
            string text = row.GetProperty("text").GetString()!;
            var expected = Fixtures.Ids(row.GetProperty("ids"));
            var actual = tokenizer.Encode(text);
            if (!actual.SequenceEqual(expected))
                failures.Add($"{JsonSerializer.Serialize(text[..Math.Min(60, text.Length)])}: expected [{string.Join(",", expected.Take(20))}], got [{string.Join(",", actual.Take(20))}]");
        }
        Assert.True(failures.Count == 0, $"{failures.Count} of {rows.Count} differ:\n" + string.Join("\n", failures.Take(10)));
    }
}
