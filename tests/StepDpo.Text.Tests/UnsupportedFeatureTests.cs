using System.Text;
using System.Text.Json.Nodes;

namespace StepDpo.Text.Tests;

/// <summary>A tokenizer.json that would give different ids than Hugging Face must not load; the error names the key.</summary>
public class UnsupportedFeatureTests
{
    static JsonObject ByteJson()
    {
        var dir = Fixtures.NewTempDir();
        ByteTokenizer.WriteTokenizerJson(dir);
        return JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "tokenizer.json")))!.AsObject();
    }

    static TokenizerFormatException Load(JsonObject json)
    {
        using var stream = new MemoryStream(Encoding.UTF8.GetBytes(json.ToJsonString()));
        return Assert.Throws<TokenizerFormatException>(() => TokenizerJsonReader.Read(stream, "my/tokenizer.json"));
    }

    [Theory]
    [InlineData("normalizer", """{"type": "NFKC"}""", "normalizer: normalizer type 'NFKC'")]
    [InlineData("normalizer", """{"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "Lowercase"}]}""", "normalizer.normalizers[1]")]
    [InlineData("pre_tokenizer", """{"type": "Metaspace", "replacement": "▁"}""", "pre-tokenizer type 'Metaspace'")]
    [InlineData("pre_tokenizer", """{"type": "ByteLevel", "add_prefix_space": true, "use_regex": true}""", "pre_tokenizer.add_prefix_space")]
    [InlineData("pre_tokenizer", """{"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "\\s+"}, "behavior": "MergedWithPrevious", "invert": false}, {"type": "ByteLevel", "use_regex": false}]}""", "pre_tokenizer.pretokenizers[0].behavior")]
    [InlineData("pre_tokenizer", """{"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "\\p{N}++"}, "behavior": "Isolated", "invert": false}, {"type": "ByteLevel", "use_regex": false}]}""", "Split regex")]
    [InlineData("pre_tokenizer", """{"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "\\s+"}, "behavior": "Isolated", "invert": false}]}""", "without ByteLevel")]
    [InlineData("decoder", """{"type": "Metaspace"}""", "decoder: decoder type 'Metaspace'")]
    [InlineData("truncation", """{"max_length": 512}""", "truncation")]
    public void Unsupported_pipeline_parts_are_rejected(string key, string value, string expected)
    {
        var json = ByteJson();
        json[key] = JsonNode.Parse(value);
        var e = Load(json);
        Assert.StartsWith("my/tokenizer.json: ", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Theory]
    [InlineData("type", "\"WordPiece\"", "model.type")]
    [InlineData("dropout", "0.1", "model.dropout")]
    [InlineData("byte_fallback", "true", "model.byte_fallback")]
    [InlineData("continuing_subword_prefix", "\"##\"", "model.continuing_subword_prefix")]
    [InlineData("merges", """["a"]""", "model.merges[0]")]
    [InlineData("merges", """[["a", "zz"]]""", "model.merges[0]: merge uses \"zz\"")]
    public void Unsupported_or_broken_models_are_rejected(string key, string value, string expected)
    {
        var json = ByteJson();
        json["model"]![key] = JsonNode.Parse(value);
        Assert.Contains(expected, Load(json).Message);
    }

    [Fact]
    public void Invalid_json_names_the_line()
    {
        using var stream = new MemoryStream(Encoding.UTF8.GetBytes("{\n\"model\": {\n,\n}"));
        var e = Assert.Throws<TokenizerFormatException>(() => TokenizerJsonReader.Read(stream, "x.json"));
        Assert.StartsWith("x.json:3: not valid JSON", e.Message);
    }

    [Fact]
    public void Is_a_step_dpo_exception_so_the_cli_prints_one_line()
    {
        Assert.IsAssignableFrom<StepDpo.Core.StepDpoException>(Load(new JsonObject { ["model"] = new JsonObject { ["type"] = "Unigram" } }));
    }
}
