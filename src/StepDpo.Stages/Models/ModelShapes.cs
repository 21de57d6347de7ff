using System.Text.Json.Nodes;
using StepDpo.Core;
using StepDpo.Core.Manifests;
using StepDpo.Text;
using StepDpo.Torch.Checkpoints;
using StepDpo.Torch.Model;

namespace StepDpo.Stages.Models;

/// <summary>
/// The start model's shape (its config.json) without loading weights, for the memory plan: from the model.path folder,
/// from model.init's preset, or, for the hub models the shipped manifests name, from their published config.json values
/// (so `stepdpo plan --memory` answers before anything is downloaded).
/// </summary>
public static class ModelShapes
{
    public static ModelConfig StartModel(Manifest m, Workspace ws)
    {
        string Resolve(string p) => Path.IsPathRooted(p) ? p : Path.Combine(ws.Root, p);
        if (m.Model.Init is { } init)
        {
            int vocab = init.Tokenizer == "byte" ? ByteTokenizer.Size : TokenizerVocabulary.Read(Resolve(init.Tokenizer)).Size;
            return Presets.Create(init.Arch, init.Preset, vocab);
        }
        string path = m.Model.Path!;
        string local = Resolve(path);
        if (Directory.Exists(local)) return ModelConfig.Load(Path.Combine(local, Checkpoint.ConfigFile));
        if (Known.TryGetValue(path, out var known)) return Config(path, known);
        throw new StepDpoException($"model.path '{path}' is not a folder here and its shape is not known: download its " +
            $"config.json (e.g. `huggingface-cli download {path} config.json --local-dir models/{Path.GetFileName(path)}`) and set model.path to that folder");
    }

    sealed record Shape(string Type, int Hidden, int Layers, int Heads, int KvHeads, int Mlp, int Vocab, bool Tied, double Theta, double Eps);

    /// <summary>config.json values of the models in experiments/ (architecture facts from their hub pages).</summary>
    static readonly Dictionary<string, Shape> Known = new()
    {
        ["xinlai/Qwen2-7B-SFT"] = Qwen2_7B,
        ["Qwen/Qwen2-7B-Instruct"] = Qwen2_7B,
        ["xinlai/Qwen2-72B-SFT"] = Qwen2_72B,
        ["Qwen/Qwen2-72B-Instruct"] = Qwen2_72B,
        ["xinlai/Llama-3-70B-SFT"] = new("llama", 8192, 80, 64, 8, 28672, 128256, false, 500000, 1e-5),
        ["deepseek-ai/deepseek-math-7b-rl"] = new("llama", 4096, 30, 32, 32, 11008, 102400, false, 10000, 1e-6),
    };

    static Shape Qwen2_7B => new("qwen2", 3584, 28, 28, 4, 18944, 152064, false, 1000000, 1e-6);
    static Shape Qwen2_72B => new("qwen2", 8192, 80, 64, 8, 29568, 152064, false, 1000000, 1e-6);

    static ModelConfig Config(string name, Shape s) => ModelConfig.FromJson(new JsonObject
    {
        ["model_type"] = s.Type, ["hidden_size"] = s.Hidden, ["num_hidden_layers"] = s.Layers, ["num_attention_heads"] = s.Heads,
        ["num_key_value_heads"] = s.KvHeads, ["intermediate_size"] = s.Mlp, ["vocab_size"] = s.Vocab,
        ["tie_word_embeddings"] = s.Tied, ["rope_theta"] = s.Theta, ["rms_norm_eps"] = s.Eps, ["hidden_act"] = "silu",
    }, $"known shape of {name}");
}
