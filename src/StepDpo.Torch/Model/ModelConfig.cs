using System.Text.Json;
using System.Text.Json.Nodes;
using StepDpo.Core;

namespace StepDpo.Torch.Model;

/// <summary>Rotary scaling from config.json's "rope_scaling": null/"default", "linear" or "llama3".</summary>
public sealed record RopeScaling(string Type, double Factor, double LowFreqFactor, double HighFreqFactor,
    int OriginalMaxPositionEmbeddings);

/// <summary>
/// The subset of a Hugging Face config.json that defines a qwen2 or llama decoder (Llama-2/3, Mistral and DeepSeekMath
/// use model_type "llama"/"mistral"). Unknown keys are kept in <see cref="Raw"/> so a save writes them back unchanged.
/// </summary>
public sealed record ModelConfig
{
    public required string ModelType { get; init; }
    public required int VocabSize { get; init; }
    public required int HiddenSize { get; init; }
    public required int IntermediateSize { get; init; }
    public required int NumHiddenLayers { get; init; }
    public required int NumAttentionHeads { get; init; }
    public required int NumKeyValueHeads { get; init; }
    public required int HeadDim { get; init; }
    public required double RmsNormEps { get; init; }
    public required double RopeTheta { get; init; }
    public RopeScaling? RopeScaling { get; init; }
    public required bool TieWordEmbeddings { get; init; }
    /// <summary>Bias on q/k/v projections (always for qwen2; "attention_bias" for llama).</summary>
    public required bool QkvBias { get; init; }
    /// <summary>Bias on o_proj (llama with attention_bias=true; never for qwen2).</summary>
    public required bool OutputBias { get; init; }
    public int MaxPositionEmbeddings { get; init; } = 4096;
    public double InitializerRange { get; init; } = 0.02;
    public int? BosTokenId { get; init; }
    public int[] EosTokenIds { get; init; } = [];
    public string TorchDtype { get; init; } = "float32";
    public JsonObject Raw { get; init; } = new();

    public int KvGroups => NumAttentionHeads / NumKeyValueHeads;

    public static ModelConfig Load(string path)
    {
        if (!File.Exists(path)) throw new StepDpoException($"{path}: config.json not found");
        JsonObject obj;
        try { obj = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new JsonException("not an object"); }
        catch (JsonException e) { throw new StepDpoException($"{path}: invalid JSON: {e.Message}", e); }
        return FromJson(obj, path);
    }

    public static ModelConfig FromJson(JsonObject obj, string source)
    {
        string type = Str(obj, "model_type", source);
        bool isQwen2 = type == "qwen2";
        if (!isQwen2 && type is not ("llama" or "mistral"))
            throw new StepDpoException($"{source}: key 'model_type': '{type}' is not supported (qwen2, llama, mistral)");
        string act = obj["hidden_act"]?.GetValue<string>() ?? "silu";
        if (act != "silu") throw new StepDpoException($"{source}: key 'hidden_act': '{act}' is not supported (silu)");
        if (obj["use_sliding_window"]?.GetValue<bool>() == true)
            throw new StepDpoException($"{source}: key 'use_sliding_window': sliding-window attention is not supported");
        if (obj["mlp_bias"]?.GetValue<bool>() == true)
            throw new StepDpoException($"{source}: key 'mlp_bias': MLP bias is not supported");

        int hidden = Int(obj, "hidden_size", source);
        int heads = Int(obj, "num_attention_heads", source);
        int kvHeads = obj["num_key_value_heads"] is null ? heads : Int(obj, "num_key_value_heads", source);
        int headDim = obj["head_dim"] is JsonValue hd && hd.TryGetValue<int>(out int h) ? h : hidden / heads;
        if (heads % kvHeads != 0)
            throw new StepDpoException($"{source}: key 'num_key_value_heads': {kvHeads} does not divide num_attention_heads {heads}");
        if (headDim % 2 != 0) throw new StepDpoException($"{source}: key 'head_dim': {headDim} must be even for rotary embedding");
        bool attentionBias = obj["attention_bias"]?.GetValue<bool>() ?? false;

        return new ModelConfig
        {
            ModelType = type,
            VocabSize = Int(obj, "vocab_size", source),
            HiddenSize = hidden,
            IntermediateSize = Int(obj, "intermediate_size", source),
            NumHiddenLayers = Int(obj, "num_hidden_layers", source),
            NumAttentionHeads = heads,
            NumKeyValueHeads = kvHeads,
            HeadDim = headDim,
            RmsNormEps = obj["rms_norm_eps"]?.GetValue<double>() ?? 1e-6,
            RopeTheta = obj["rope_theta"]?.GetValue<double>() ?? 10000.0,
            RopeScaling = ParseRopeScaling(obj["rope_scaling"], source),
            TieWordEmbeddings = obj["tie_word_embeddings"]?.GetValue<bool>() ?? false,
            QkvBias = isQwen2 || attentionBias,
            OutputBias = !isQwen2 && attentionBias,
            MaxPositionEmbeddings = obj["max_position_embeddings"]?.GetValue<int>() ?? 4096,
            InitializerRange = obj["initializer_range"]?.GetValue<double>() ?? 0.02,
            BosTokenId = obj["bos_token_id"] is JsonValue b && b.TryGetValue<int>(out int bos) ? bos : null,
            EosTokenIds = ParseIds(obj["eos_token_id"]),
            TorchDtype = obj["torch_dtype"]?.GetValue<string>() ?? obj["dtype"]?.GetValue<string>() ?? "float32",
            Raw = obj,
        };
    }

    /// <summary>The config.json text: the original keys, with ours overwriting them.</summary>
    public string ToJson()
    {
        var obj = (JsonObject)Raw.DeepClone();
        obj["model_type"] = ModelType;
        obj["architectures"] = new JsonArray(ModelType == "qwen2" ? "Qwen2ForCausalLM"
            : ModelType == "mistral" ? "MistralForCausalLM" : "LlamaForCausalLM");
        obj["vocab_size"] = VocabSize;
        obj["hidden_size"] = HiddenSize;
        obj["intermediate_size"] = IntermediateSize;
        obj["num_hidden_layers"] = NumHiddenLayers;
        obj["num_attention_heads"] = NumAttentionHeads;
        obj["num_key_value_heads"] = NumKeyValueHeads;
        obj["head_dim"] = HeadDim;
        obj["hidden_act"] = "silu";
        obj["rms_norm_eps"] = RmsNormEps;
        obj["rope_theta"] = RopeTheta;
        obj["rope_scaling"] = RopeScaling is null ? null : new JsonObject
        {
            ["rope_type"] = RopeScaling.Type,
            ["factor"] = RopeScaling.Factor,
            ["low_freq_factor"] = RopeScaling.LowFreqFactor,
            ["high_freq_factor"] = RopeScaling.HighFreqFactor,
            ["original_max_position_embeddings"] = RopeScaling.OriginalMaxPositionEmbeddings,
        };
        obj["tie_word_embeddings"] = TieWordEmbeddings;
        if (ModelType != "qwen2") obj["attention_bias"] = QkvBias;
        obj["max_position_embeddings"] = MaxPositionEmbeddings;
        obj["initializer_range"] = InitializerRange;
        if (BosTokenId is int bos) obj["bos_token_id"] = bos;
        if (EosTokenIds.Length == 1) obj["eos_token_id"] = EosTokenIds[0];
        else if (EosTokenIds.Length > 1) obj["eos_token_id"] = new JsonArray(EosTokenIds.Select(i => (JsonNode?)i).ToArray());
        obj["torch_dtype"] = TorchDtype;
        obj["use_cache"] = true;
        return obj.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    static RopeScaling? ParseRopeScaling(JsonNode? node, string source)
    {
        if (node is not JsonObject rs) return null;
        string type = rs["rope_type"]?.GetValue<string>() ?? rs["type"]?.GetValue<string>() ?? "default";
        if (type == "default") return null;
        if (type is not ("linear" or "llama3"))
            throw new StepDpoException($"{source}: key 'rope_scaling.rope_type': '{type}' is not supported (default, linear, llama3)");
        double factor = rs["factor"]?.GetValue<double>()
            ?? throw new StepDpoException($"{source}: key 'rope_scaling.factor' is missing");
        if (type == "linear") return new RopeScaling(type, factor, 0, 0, 0);
        double Req(string k) => rs[k]?.GetValue<double>()
            ?? throw new StepDpoException($"{source}: key 'rope_scaling.{k}' is missing");
        return new RopeScaling(type, factor, Req("low_freq_factor"), Req("high_freq_factor"),
            (int)Req("original_max_position_embeddings"));
    }

    static int[] ParseIds(JsonNode? node) => node switch
    {
        JsonArray a => a.Select(x => x!.GetValue<int>()).ToArray(),
        JsonValue v when v.TryGetValue<int>(out int i) => [i],
        _ => [],
    };

    static string Str(JsonObject o, string key, string source) =>
        o[key] is JsonValue v && v.TryGetValue<string>(out var s) ? s
            : throw new StepDpoException($"{source}: key '{key}' is missing or not a string");

    static int Int(JsonObject o, string key, string source)
    {
        if (o[key] is JsonValue v && v.TryGetValue<int>(out int i) && i > 0) return i;
        throw new StepDpoException($"{source}: key '{key}' is missing or not a positive integer");
    }
}
