using System.Text.Json.Nodes;
using StepDpo.Torch.Checkpoints;
using StepDpo.Torch.Model;
using static TorchSharp.torch;

namespace StepDpo.Bench.Probes;

/// <summary>
/// Model shapes of the memory benchmarks, written once as random bf16 checkpoints under the temp folder
/// (stepdpo-bench/NAME) so that every probe loads the same weights from disk, as a stage would.
/// qwen2-0.5b is Qwen2-0.5B's real config.json (hidden 896, 24 layers, 14 heads, 2 KV heads, MLP 4864, vocabulary
/// 151936, tied embeddings, rope theta 1e6, RMS eps 1e-6); the two smaller ones keep its proportions.
/// </summary>
public static class BenchModels
{
    public static readonly string[] Names = ["qwen2-40m", "llama-110m", "qwen2-0.5b"];

    public static ModelConfig Config(string name)
    {
        var (type, hidden, layers, heads, kvHeads, mlp, vocab, tied) = name switch
        {
            "qwen2-40m" => ("qwen2", 512, 8, 8, 2, 1408, 32000, true),
            "llama-110m" => ("llama", 768, 12, 12, 4, 2048, 32000, false),
            "qwen2-0.5b" => ("qwen2", 896, 24, 14, 2, 4864, 151936, true),
            _ => throw new ArgumentException($"unknown bench model {name} ({string.Join(", ", Names)})"),
        };
        var json = new JsonObject
        {
            ["model_type"] = type, ["vocab_size"] = vocab, ["hidden_size"] = hidden, ["intermediate_size"] = mlp,
            ["num_hidden_layers"] = layers, ["num_attention_heads"] = heads, ["num_key_value_heads"] = kvHeads,
            ["hidden_act"] = "silu", ["rms_norm_eps"] = 1e-6, ["rope_theta"] = type == "qwen2" ? 1000000.0 : 500000.0,
            ["max_position_embeddings"] = 32768, ["tie_word_embeddings"] = tied, ["initializer_range"] = 0.02,
            ["eos_token_id"] = 2,
        };
        return ModelConfig.FromJson((JsonObject)JsonNode.Parse(json.ToJsonString())!, $"bench model {name}");
    }

    /// <summary>The folder of <paramref name="name"/>'s random bf16 checkpoint, written on first use.</summary>
    public static string Checkpoint(string name)
    {
        string folder = Path.Combine(Path.GetTempPath(), "stepdpo-bench", name);
        if (File.Exists(Path.Combine(folder, Torch.Checkpoints.Checkpoint.ConfigFile))) return folder;
        Console.Error.WriteLine($"writing a random bf16 checkpoint of {name} to {folder} ...");
        using var model = new CausalLM(Config(name), ScalarType.BFloat16);
        RandomInit.Apply(model, 1);
        Torch.Checkpoints.Checkpoint.Save(model, folder);
        return folder;
    }

    public static long FolderBytes(string folder) =>
        Directory.GetFiles(folder, "*.safetensors").Sum(f => new FileInfo(f).Length);
}
