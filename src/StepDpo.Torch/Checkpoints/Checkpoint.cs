using System.Text.Json;
using System.Text.Json.Nodes;
using StepDpo.Core;
using StepDpo.Torch.Model;
using static TorchSharp.torch;

namespace StepDpo.Torch.Checkpoints;

/// <summary>
/// Hugging Face checkpoint folders: config.json plus model.safetensors, or shards listed in
/// model.safetensors.index.json; tokenizer files travel with the weights.
/// </summary>
public static class Checkpoint
{
    public const string ConfigFile = "config.json";
    public const string SingleFile = "model.safetensors";
    public const string IndexFile = "model.safetensors.index.json";
    public const string GenerationConfigFile = "generation_config.json";
    /// <summary>Tokenizer files copied along with a checkpoint (those present in the source folder).</summary>
    public static readonly string[] TokenizerFiles =
        ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt",
         "tokenizer.model", "added_tokens.json", "chat_template.jinja"];

    /// <summary>
    /// Loads a checkpoint folder into a model of <paramref name="dtype"/> on <paramref name="device"/> (default: the CPU).
    /// The model's tensors are allocated uncommitted and filled straight from the files, chunk by chunk, converting stored
    /// F32/BF16/F16 on the way: no tensor exists twice and nothing is staged in another dtype, so loading a bf16 checkpoint
    /// into bf16 weights needs the checkpoint's size in memory plus one chunk (measured: the `checkpoint` benchmark).
    /// Missing, unexpected and mis-shaped tensors are errors that name them. A PEFT LoRA adapter folder loads as its base
    /// model with the adapter merged (see <see cref="PeftAdapter"/>).
    /// </summary>
    public static CausalLM Load(string folder, ScalarType dtype = ScalarType.Float32, Device? device = null)
    {
        if (!Directory.Exists(folder)) throw new StepDpoException($"{folder}: model folder not found");
        if (PeftAdapter.IsAdapterFolder(folder)) return PeftAdapter.LoadMerged(folder, dtype, device);
        var config = ModelConfig.Load(System.IO.Path.Combine(folder, ConfigFile));
        var model = new CausalLM(config, dtype, device);
        try
        {
            LoadWeights(model, folder);
            model.eval();
            return model;
        }
        catch { model.Dispose(); throw; }
    }

    static void LoadWeights(CausalLM model, string folder)
    {
        var parameters = model.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);
        var loaded = new HashSet<string>();
        var unexpected = new List<string>();
        foreach (var file in WeightFiles(folder))
        {
            using var reader = new SafeTensorsReader(file);
            foreach (var name in reader.Entries.Keys.Order(StringComparer.Ordinal))
            {
                if (parameters.TryGetValue(name, out var parameter))
                {
                    reader.ReadInto(name, parameter);
                    loaded.Add(name);
                }
                else if (!IsIgnorable(name, model.Config)) unexpected.Add($"{name} (in {System.IO.Path.GetFileName(file)})");
            }
        }
        var missing = parameters.Keys.Where(n => !loaded.Contains(n)).Order(StringComparer.Ordinal).ToList();
        if (missing.Count > 0 || unexpected.Count > 0)
            throw new StepDpoException($"{folder}: checkpoint does not match config.json: " +
                (missing.Count > 0 ? $"missing tensors: {Names(missing)}" : "") +
                (missing.Count > 0 && unexpected.Count > 0 ? "; " : "") +
                (unexpected.Count > 0 ? $"unexpected tensors: {Names(unexpected)}" : ""));
    }

    /// <summary>Tensors HF itself skips: a copy of the tied LM head, and rotary buffers saved by old Llama code.</summary>
    static bool IsIgnorable(string name, ModelConfig c) =>
        (name == "lm_head.weight" && c.TieWordEmbeddings) || name.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal);

    static string Names(List<string> names) =>
        string.Join(", ", names.Take(8)) + (names.Count > 8 ? $" and {names.Count - 8} more" : "");

    /// <summary>The safetensors files of a folder: the shards of the index, or model.safetensors.</summary>
    public static IReadOnlyList<string> WeightFiles(string folder)
    {
        string index = System.IO.Path.Combine(folder, IndexFile), single = System.IO.Path.Combine(folder, SingleFile);
        if (File.Exists(index))
        {
            JsonObject map;
            try { map = JsonNode.Parse(File.ReadAllText(index))?["weight_map"] as JsonObject ?? throw new JsonException("no weight_map"); }
            catch (JsonException e) { throw new StepDpoException($"{index}: key 'weight_map': {e.Message}", e); }
            return map.Select(kv => kv.Value!.GetValue<string>()).Distinct().Order(StringComparer.Ordinal)
                .Select(f => System.IO.Path.Combine(folder, f)).ToList();
        }
        if (File.Exists(single)) return [single];
        throw new StepDpoException($"{folder}: neither {SingleFile} nor {IndexFile} found");
    }

    /// <summary>transformers' default max_shard_size, "5GB" (decimal).</summary>
    public const long DefaultMaxShardBytes = 5_000_000_000;

    /// <summary>
    /// Saves <paramref name="model"/> as a HF folder loadable by transformers and vLLM: weights in
    /// <paramref name="saveDtype"/> (default: the model's), sharded above <paramref name="maxShardBytes"/>,
    /// config.json, generation_config.json, and the tokenizer files found in <paramref name="tokenizerFrom"/>.
    /// The folder is written under a temporary name and renamed at the end, so a killed save never looks complete;
    /// an existing folder is replaced.
    /// </summary>
    public static void Save(CausalLM model, string folder, string? tokenizerFrom = null, ScalarType? saveDtype = null,
        long maxShardBytes = DefaultMaxShardBytes) => WriteFolder(folder, temp =>
    {
        var dtype = saveDtype ?? model.DType;
        var config = model.Config with { TorchDtype = DTypeName(dtype) };
        WriteWeights(model, temp, dtype, maxShardBytes);
        File.WriteAllText(System.IO.Path.Combine(temp, ConfigFile), config.ToJson());
        File.WriteAllText(System.IO.Path.Combine(temp, GenerationConfigFile), GenerationConfigJson(config));
        if (tokenizerFrom is not null) CopyTokenizer(tokenizerFrom, temp);
    });

    /// <summary>Writes a folder under a temporary name next to it and renames it into place at the end, replacing an
    /// existing one: a killed write never looks complete, and no temporary is left behind on failure.</summary>
    internal static void WriteFolder(string folder, Action<string> write)
    {
        folder = System.IO.Path.GetFullPath(folder.TrimEnd('/'));
        var parent = System.IO.Path.GetDirectoryName(folder)!;
        Directory.CreateDirectory(parent);
        string temp = System.IO.Path.Combine(parent, $".{System.IO.Path.GetFileName(folder)}.tmp-{Guid.NewGuid():N}");
        Directory.CreateDirectory(temp);
        try
        {
            write(temp);
            Replace(temp, folder);
        }
        catch
        {
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
            throw;
        }
    }

    static void WriteWeights(CausalLM model, string folder, ScalarType dtype, long maxShardBytes)
    {
        var all = model.named_parameters().Select(p => (p.name, (Tensor)p.parameter)).ToList();
        // Greedy shards in parameter order, as transformers does: a shard holds at least one tensor, so a tensor larger
        // than the limit gets a shard of its own.
        var shards = new List<List<(string Name, Tensor Tensor)>> { new() };
        long shardBytes = 0, totalBytes = 0;
        foreach (var (name, p) in all)
        {
            long bytes = p.NumberOfElements * TensorBytes.ElementSize(dtype);
            if (shards[^1].Count > 0 && shardBytes + bytes > maxShardBytes) { shards.Add([]); shardBytes = 0; }
            shards[^1].Add((name, p));
            shardBytes += bytes; totalBytes += bytes;
        }
        if (shards.Count == 1)
        {
            // Each tensor is converted to the save dtype a chunk at a time on its way to the file (no second copy).
            SafeTensorsWriter.Write(System.IO.Path.Combine(folder, SingleFile), shards[0], dtype);
            return;
        }
        var weightMap = new JsonObject();
        for (int i = 0; i < shards.Count; i++)
        {
            string file = $"model-{i + 1:D5}-of-{shards.Count:D5}.safetensors";
            SafeTensorsWriter.Write(System.IO.Path.Combine(folder, file), shards[i], dtype);
            foreach (var (name, _) in shards[i]) weightMap[name] = file;
        }
        var index = new JsonObject { ["metadata"] = new JsonObject { ["total_size"] = totalBytes }, ["weight_map"] = weightMap };
        File.WriteAllText(System.IO.Path.Combine(folder, IndexFile), index.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    static string GenerationConfigJson(ModelConfig c)
    {
        var o = new JsonObject();
        if (c.BosTokenId is int bos) o["bos_token_id"] = bos;
        if (c.EosTokenIds.Length == 1) o["eos_token_id"] = c.EosTokenIds[0];
        else if (c.EosTokenIds.Length > 1) o["eos_token_id"] = new JsonArray(c.EosTokenIds.Select(i => (JsonNode?)i).ToArray());
        o["do_sample"] = false;
        o["transformers_version"] = "4.46.0";
        return o.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    internal static void CopyTokenizer(string source, string destination)
    {
        if (File.Exists(source))
        {
            File.Copy(source, System.IO.Path.Combine(destination, "tokenizer.json"));
            return;
        }
        if (!Directory.Exists(source)) throw new StepDpoException($"{source}: tokenizer file or folder not found");
        int copied = 0;
        foreach (var name in TokenizerFiles)
        {
            var file = System.IO.Path.Combine(source, name);
            if (File.Exists(file)) { File.Copy(file, System.IO.Path.Combine(destination, name)); copied++; }
        }
        if (copied == 0) throw new StepDpoException($"{source}: no tokenizer files ({string.Join(", ", TokenizerFiles)})");
    }

    static void Replace(string temp, string folder)
    {
        if (!Directory.Exists(folder)) { Directory.Move(temp, folder); return; }
        string old = temp + ".old";
        Directory.Move(folder, old);
        Directory.Move(temp, folder);
        Directory.Delete(old, recursive: true);
    }

    public static string DTypeName(ScalarType t) => t switch
    {
        ScalarType.Float32 => "float32",
        ScalarType.BFloat16 => "bfloat16",
        ScalarType.Float16 => "float16",
        _ => throw new ArgumentException($"unsupported dtype {t}"),
    };

    /// <summary>Parses the CLI/config spelling of a dtype.</summary>
    public static ScalarType ParseDType(string name) => name.ToLowerInvariant() switch
    {
        "float32" or "fp32" or "f32" => ScalarType.Float32,
        "bfloat16" or "bf16" => ScalarType.BFloat16,
        "float16" or "fp16" or "f16" => ScalarType.Float16,
        _ => throw new StepDpoException($"dtype '{name}' is not supported (float32, bfloat16, float16)"),
    };
}
