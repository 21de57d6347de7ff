using System.Text.Json;

namespace StepDpo.Text;

/// <summary>Loads a tokenizer from a model folder or a tokenizer.json path, with bos/eos/pad from the
/// tokenizer_config.json (and generation_config.json) beside it when present.</summary>
public static class Tokenizers
{
    /// <summary>Tokens that end a turn or a document in the supported families; generation stops on any of them that
    /// the vocabulary marks special, besides the configured eos (Qwen2-Instruct ends turns with &lt;|im_end|&gt; but
    /// its base model ends documents with &lt;|endoftext|&gt;).</summary>
    static readonly string[] KnownStopTokens = ["<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end_of_text|>"];

    /// <param name="pathOrFolder">A folder holding tokenizer.json (or tokenizer.json.gz), or the file itself.</param>
    public static BpeTokenizer Load(string pathOrFolder)
    {
        string jsonPath = Directory.Exists(pathOrFolder)
            ? new[] { "tokenizer.json", "tokenizer.json.gz" }.Select(f => Path.Combine(pathOrFolder, f)).FirstOrDefault(File.Exists)
              ?? throw new FileNotFoundException($"{pathOrFolder}: no tokenizer.json in this folder")
            : pathOrFolder;
        var definition = TokenizerJsonReader.ReadFile(jsonPath);
        var plain = new TokenLookup(definition);
        string folder = Path.GetDirectoryName(Path.GetFullPath(jsonPath))!;

        string configPath = Path.Combine(folder, "tokenizer_config.json");
        int? bos = null, pad = null;
        var eos = new List<int>();
        if (File.Exists(configPath))
        {
            using var config = ParseJson(configPath);
            bos = TokenId(plain, config.RootElement, "bos_token", configPath);
            if (TokenId(plain, config.RootElement, "eos_token", configPath) is int e) eos.Add(e);
            pad = TokenId(plain, config.RootElement, "pad_token", configPath);
        }
        string generationPath = Path.Combine(folder, "generation_config.json");
        if (File.Exists(generationPath))
        {
            using var generation = ParseJson(generationPath);
            if (generation.RootElement.TryGetProperty("eos_token_id", out var ids))
                foreach (var id in ids.ValueKind == JsonValueKind.Array ? ids.EnumerateArray().ToArray() : [ids])
                    if (id.ValueKind == JsonValueKind.Number && plain.HasId(id.GetInt32())) eos.Add(id.GetInt32());
        }
        foreach (var stop in KnownStopTokens)
            if (plain.SpecialTokens.TryGetValue(stop, out int id)) eos.Add(id);
        eos = eos.Distinct().ToList();
        return new BpeTokenizer(definition, bos, eos, pad ?? (eos.Count > 0 ? eos[0] : null));
    }

    /// <summary>Token ids by content straight from the definition, so the tokenizer is built only once.</summary>
    sealed class TokenLookup(TokenizerDefinition definition)
    {
        readonly Dictionary<string, AddedToken> added = definition.AddedTokens.GroupBy(t => t.Content).ToDictionary(g => g.Key, g => g.Last());
        readonly HashSet<int> ids = definition.Vocab.Values.Concat(definition.AddedTokens.Select(t => t.Id)).ToHashSet();

        public Dictionary<string, int> SpecialTokens { get; } =
            definition.AddedTokens.Where(t => t.Special).GroupBy(t => t.Content).ToDictionary(g => g.Key, g => g.Last().Id);

        public int? TokenToId(string content) =>
            added.TryGetValue(content, out var t) ? t.Id : definition.Vocab.TryGetValue(content, out int id) ? id : null;

        public bool HasId(int id) => this.ids.Contains(id);
    }

    static JsonDocument ParseJson(string path)
    {
        try { return JsonDocument.Parse(File.ReadAllBytes(path)); }
        catch (JsonException e) { throw new TokenizerFormatException($"{path}:{(e.LineNumber ?? 0) + 1}: not valid JSON: {e.Message}", e); }
    }

    /// <summary>A token given as a string or as {"content": ...} (an AddedToken object); null when absent or null.</summary>
    static int? TokenId(TokenLookup tokenizer, JsonElement config, string key, string path)
    {
        if (!config.TryGetProperty(key, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        string? content = value.ValueKind switch
        {
            JsonValueKind.String => value.GetString(),
            JsonValueKind.Object when value.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String => c.GetString(),
            _ => throw new TokenizerFormatException($"{path}: {key}: expected a token string or {{\"content\": ...}}"),
        };
        return tokenizer.TokenToId(content!) ?? throw new TokenizerFormatException($"{path}: {key}: \"{content}\" is not a token of the tokenizer");
    }
}
