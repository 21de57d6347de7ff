using System.Text.Json;
using System.Text.Json.Nodes;
using StepDpo.Core;
using StepDpo.Torch.Model;
using static TorchSharp.torch;

namespace StepDpo.Torch.Checkpoints;

/// <summary>
/// LoRA adapters in the layout of Hugging Face PEFT, so that `PeftModel.from_pretrained(base, folder)` loads them:
/// adapter_config.json (peft_type LORA, r, lora_alpha, target_modules, base_model_name_or_path, task_type CAUSAL_LM,
/// ...) and adapter_model.safetensors with PEFT's tensor names, e.g.
/// base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight ([r, in]) and ...lora_B.weight ([out, r]): the
/// PeftModel's state-dict keys with the adapter name ("default") removed, as PEFT saves them.
/// </summary>
public static class PeftAdapter
{
    public const string ConfigFile = "adapter_config.json";
    public const string WeightsFile = "adapter_model.safetensors";
    /// <summary>PeftModelForCausalLM.base_model (LoraModel).model (the HF model): the prefix of every saved key.</summary>
    const string KeyPrefix = "base_model.model.";

    /// <summary>A folder holding an adapter and no model of its own.</summary>
    public static bool IsAdapterFolder(string folder) =>
        File.Exists(Path.Combine(folder, ConfigFile)) && !File.Exists(Path.Combine(folder, Checkpoint.ConfigFile));

    /// <summary>
    /// Writes the adapters attached to <paramref name="model"/>'s layers (by the LoRA trainer) as a PEFT folder
    /// (temporary folder, then renamed), with the tokenizer files of <paramref name="tokenizerFrom"/>.
    /// <paramref name="baseModel"/> goes into base_model_name_or_path: the folder (or hub id) of the frozen base.
    /// </summary>
    public static void Save(CausalLM model, string folder, string baseModel, string? tokenizerFrom = null)
    {
        var attached = model.named_modules()
            .Where(m => m.module is Model.Linear { Adapter: not null })
            .Select(m => (Name: m.name, Adapter: ((Model.Linear)m.module).Adapter!)).ToList();
        if (attached.Count == 0) throw new InvalidOperationException("the model has no LoRA adapters to save");
        var first = attached[0].Adapter;
        if (attached.Any(a => a.Adapter.Rank != first.Rank || a.Adapter.Scale != first.Scale))
            throw new InvalidOperationException("adapters of different rank or scale need PEFT's rank_pattern, which is not written");
        double alpha = first.Scale * first.Rank;
        var config = new JsonObject
        {
            ["peft_type"] = "LORA",
            ["task_type"] = "CAUSAL_LM",
            ["base_model_name_or_path"] = baseModel,
            ["r"] = first.Rank,
            ["lora_alpha"] = alpha == Math.Round(alpha) ? JsonValue.Create((long)alpha) : JsonValue.Create(alpha),
            ["lora_dropout"] = 0.0,
            ["target_modules"] = new JsonArray(attached.Select(a => a.Name.Split('.')[^1]).Distinct()
                .Order(StringComparer.Ordinal).Select(n => (JsonNode?)n).ToArray()),
            ["bias"] = "none",
            ["fan_in_fan_out"] = false,
            ["init_lora_weights"] = true,
            ["inference_mode"] = true,
            ["modules_to_save"] = null,
            ["use_rslora"] = false,
            ["use_dora"] = false,
        };
        var tensors = attached.SelectMany(a => new (string, Tensor)[]
        {
            ($"{KeyPrefix}{a.Name}.lora_A.weight", a.Adapter.lora_A),
            ($"{KeyPrefix}{a.Name}.lora_B.weight", a.Adapter.lora_B),
        }).ToList();
        Checkpoint.WriteFolder(folder, temp =>
        {
            SafeTensorsWriter.Write(Path.Combine(temp, WeightsFile), tensors);
            File.WriteAllText(Path.Combine(temp, ConfigFile), config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            if (tokenizerFrom is not null) Checkpoint.CopyTokenizer(tokenizerFrom, temp);
        });
    }

    /// <summary>The base model of an adapter folder (base_model_name_or_path; a relative path is taken from the adapter
    /// folder) with the adapter merged into its weights.</summary>
    public static CausalLM LoadMerged(string folder, ScalarType dtype, Device? device)
    {
        var config = ReadConfig(folder);
        string baseName = config.BaseModel ?? throw new StepDpoException(
            $"{Path.Combine(folder, ConfigFile)}: key 'base_model_name_or_path' is empty: the base model is unknown");
        string basePath = Path.IsPathRooted(baseName) ? baseName : Path.GetFullPath(Path.Combine(folder, baseName));
        if (!Directory.Exists(basePath))
            throw new StepDpoException($"{Path.Combine(folder, ConfigFile)}: key 'base_model_name_or_path': base model " +
                $"folder '{baseName}' not found (download it and set the key to its folder)");
        var model = Checkpoint.Load(basePath, dtype, device);
        try
        {
            MergeInto(model, folder, config);
            return model;
        }
        catch { model.Dispose(); throw; }
    }

    sealed record Config(string? BaseModel, int Rank, double Scale);

    static Config ReadConfig(string folder)
    {
        string path = Path.Combine(folder, ConfigFile);
        JsonObject json;
        try { json = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new JsonException("not an object"); }
        catch (JsonException e) { throw new StepDpoException($"{path}: invalid JSON: {e.Message}", e); }
        string Key(string key) => $"{path}: key '{key}'";
        if (json["peft_type"]?.GetValue<string>() != "LORA") throw new StepDpoException($"{Key("peft_type")}: only LORA adapters are supported");
        // The variants whose arithmetic differs from W + (alpha / r) B A are refused rather than merged wrongly.
        foreach (var flag in new[] { "use_dora", "fan_in_fan_out" })
            if (json[flag]?.GetValue<bool>() == true) throw new StepDpoException($"{Key(flag)}: true is not supported");
        if (json["bias"] is JsonNode bias && bias.GetValue<string>() != "none") throw new StepDpoException($"{Key("bias")}: only 'none' is supported");
        foreach (var key in new[] { "rank_pattern", "alpha_pattern" })
            if (json[key] is JsonObject { Count: > 0 }) throw new StepDpoException($"{Key(key)}: per-layer ranks are not supported");
        if (json["modules_to_save"] is JsonArray { Count: > 0 }) throw new StepDpoException($"{Key("modules_to_save")}: not supported");
        int rank = json["r"]?.GetValue<int>() ?? throw new StepDpoException($"{Key("r")}: missing");
        double alpha = json["lora_alpha"]?.GetValue<double>() ?? throw new StepDpoException($"{Key("lora_alpha")}: missing");
        if (rank < 1) throw new StepDpoException($"{Key("r")}: {rank} must be >= 1");
        bool rs = json["use_rslora"]?.GetValue<bool>() == true;
        return new Config(json["base_model_name_or_path"]?.GetValue<string>(), rank, rs ? alpha / Math.Sqrt(rank) : alpha / rank);
    }

    /// <summary>W += s B A for every adapted layer of the folder; an adapter for a layer the model lacks, a wrong shape or
    /// a missing half is an error that names the tensor.</summary>
    static void MergeInto(CausalLM model, string folder, Config config)
    {
        var layers = model.named_modules().Where(m => m.module is Model.Linear)
            .ToDictionary(m => m.name, m => (Model.Linear)m.module);
        using var reader = new SafeTensorsReader(Path.Combine(folder, WeightsFile));
        var pairs = new Dictionary<string, (string? A, string? B)>();
        foreach (var key in reader.Entries.Keys)
        {
            bool isA = key.EndsWith(".lora_A.weight", StringComparison.Ordinal), isB = key.EndsWith(".lora_B.weight", StringComparison.Ordinal);
            if (!key.StartsWith(KeyPrefix, StringComparison.Ordinal) || !(isA || isB))
                throw new StepDpoException($"{reader.Path}: tensor '{key}' is not a LoRA weight ({KeyPrefix}MODULE.lora_A.weight / lora_B.weight)");
            string module = key[KeyPrefix.Length..^".lora_A.weight".Length];
            var pair = pairs.GetValueOrDefault(module);
            pairs[module] = isA ? (key, pair.B) : (pair.A, key);
        }
        foreach (var (module, (aKey, bKey)) in pairs.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            if (aKey is null || bKey is null) throw new StepDpoException($"{reader.Path}: '{module}' has only one of lora_A / lora_B");
            if (!layers.TryGetValue(module, out var layer))
                throw new StepDpoException($"{reader.Path}: tensor '{aKey}' adapts '{module}', which is not a linear layer of the base model");
            using var a = reader.Read(aKey);
            using var b = reader.Read(bKey);
            long outFeatures = layer.weight.shape[0], inFeatures = layer.weight.shape[1];
            if (!a.shape.SequenceEqual([config.Rank, inFeatures]) || !b.shape.SequenceEqual([outFeatures, config.Rank]))
                throw new StepDpoException($"{reader.Path}: '{module}': lora_A [{string.Join(", ", a.shape)}] and lora_B " +
                    $"[{string.Join(", ", b.shape)}] do not fit r = {config.Rank} and the layer's weight [{outFeatures}, {inFeatures}]");
            LowRankAdapter.MergeInto(layer.weight, a, b, config.Scale);
        }
    }
}
