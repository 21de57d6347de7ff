using System.Text.Json;
using System.Text.Json.Nodes;
using StepDpo.Core;
using StepDpo.Torch.Model;

namespace StepDpo.Torch.Checkpoints;

/// <summary>Shapes of the small randomly initialised models used by tests and the synthetic experiment.</summary>
public static class Presets
{
    public static readonly string[] Names = ["tiny", "mini", "small"];
    public static readonly string[] Architectures = ["qwen2", "llama"];

    /// <summary>
    /// A config.json for <paramref name="arch"/> (qwen2: q/k/v bias, tied embeddings, θ=1e6 as Qwen2.5;
    /// llama: no bias, untied head, θ=5e5 with llama3 rope scaling as Llama 3.1) at size <paramref name="preset"/>.
    /// </summary>
    public static ModelConfig Create(string arch, string preset, int vocabSize, int? bosId = null, int[]? eosIds = null)
    {
        var (hidden, layers, heads, kvHeads, intermediate) = preset switch
        {
            "tiny" => (64, 2, 4, 2, 172),
            // The synthetic experiment's default: ~0.8M parameters, ~30k training tokens/s in bf16 on 2 CPU cores.
            "mini" => (128, 4, 4, 2, 344),
            "small" => (256, 4, 8, 2, 688),
            _ => throw new StepDpoException($"preset '{preset}' is not known ({string.Join(", ", Names)})"),
        };
        if (vocabSize <= 0) throw new StepDpoException($"vocabulary size {vocabSize} must be positive");
        bool qwen = arch switch
        {
            "qwen2" => true,
            "llama" => false,
            _ => throw new StepDpoException($"architecture '{arch}' is not known ({string.Join(", ", Architectures)})"),
        };
        var json = new JsonObject
        {
            ["model_type"] = arch,
            ["vocab_size"] = vocabSize,
            ["hidden_size"] = hidden,
            ["intermediate_size"] = intermediate,
            ["num_hidden_layers"] = layers,
            ["num_attention_heads"] = heads,
            ["num_key_value_heads"] = kvHeads,
            ["hidden_act"] = "silu",
            ["rms_norm_eps"] = 1e-6,
            ["rope_theta"] = qwen ? 1000000.0 : 500000.0,
            ["max_position_embeddings"] = 2048,
            ["tie_word_embeddings"] = qwen,
            ["initializer_range"] = 0.02,
        };
        if (!qwen)
            json["rope_scaling"] = new JsonObject
            {
                ["rope_type"] = "llama3", ["factor"] = 8.0, ["low_freq_factor"] = 1.0, ["high_freq_factor"] = 4.0,
                ["original_max_position_embeddings"] = 256,
            };
        if (bosId is int b) json["bos_token_id"] = b;
        if (eosIds is { Length: > 0 }) json["eos_token_id"] = new JsonArray(eosIds.Select(i => (JsonNode?)i).ToArray());
        // Round-trip through text so the config is parsed exactly as a config.json on disk would be.
        return ModelConfig.FromJson((JsonObject)JsonNode.Parse(json.ToJsonString())!, $"preset {arch}/{preset}");
    }
}

/// <summary>What a model needs to know of a tokenizer.json without tokenising: its id space and special tokens.</summary>
public sealed record TokenizerVocabulary(int Size, int? BosId, int[] EosIds)
{
    static readonly string[] EosNames = ["<|endoftext|>", "<|im_end|>", "</s>", "<|end_of_text|>", "<|eot_id|>", "<eos>"];
    static readonly string[] BosNames = ["<s>", "<|begin_of_text|>", "<bos>"];

    /// <summary>Size = largest id + 1 over model.vocab and added_tokens; BOS/EOS from the added tokens' names.</summary>
    public static TokenizerVocabulary Read(string pathOrFolder)
    {
        string path = Directory.Exists(pathOrFolder) ? Path.Combine(pathOrFolder, "tokenizer.json") : pathOrFolder;
        if (!File.Exists(path)) throw new StepDpoException($"{path}: tokenizer.json not found");
        JsonNode root;
        try { root = JsonNode.Parse(File.ReadAllText(path)) ?? throw new JsonException("empty"); }
        catch (JsonException e) { throw new StepDpoException($"{path}: invalid JSON: {e.Message}", e); }
        int maxId = -1;
        switch (root["model"]?["vocab"])
        {
            case JsonObject bpe: // BPE / WordPiece / WordLevel: token -> id
                foreach (var (_, id) in bpe) maxId = Math.Max(maxId, id!.GetValue<int>());
                break;
            case JsonArray unigram: // Unigram: [[piece, score], ...], id = index
                maxId = unigram.Count - 1;
                break;
            default:
                throw new StepDpoException($"{path}: key 'model.vocab' is missing");
        }
        var added = new Dictionary<string, int>();
        foreach (var token in root["added_tokens"]?.AsArray() ?? [])
        {
            int id = token!["id"]!.GetValue<int>();
            added[token["content"]!.GetValue<string>()] = id;
            maxId = Math.Max(maxId, id);
        }
        int? bos = BosNames.Where(added.ContainsKey).Select(n => (int?)added[n]).FirstOrDefault();
        int[] eos = EosNames.Where(added.ContainsKey).Select(n => added[n]).ToArray();
        return new TokenizerVocabulary(maxId + 1, bos, eos);
    }
}
