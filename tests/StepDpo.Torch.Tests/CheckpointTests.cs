using StepDpo.Core;
using StepDpo.Torch.Checkpoints;
using StepDpo.Torch.Model;
using static TorchSharp.torch;

namespace StepDpo.Torch.Tests;

public class CheckpointTests
{
    static void AssertSameWeights(CausalLM a, CausalLM b, double tolerance = 0)
    {
        var left = a.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var right = b.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        Assert.Equal(left.Keys.Order(), right.Keys.Order());
        foreach (var (name, t) in left)
            Assert.True(Fixtures.MaxAbsDiff(t, right[name]) <= tolerance, $"{name} differs");
    }

    [Theory]
    [InlineData("qwen2-micro")]
    [InlineData("llama-micro")]
    public void Saved_checkpoint_reloads_identically(string model)
    {
        using var original = Checkpoint.Load(Fixtures.Folder(model));
        var folder = Path.Combine(Fixtures.TempFolder(), "saved");
        Checkpoint.Save(original, folder);
        Assert.True(File.Exists(Path.Combine(folder, "model.safetensors")));
        Assert.True(File.Exists(Path.Combine(folder, "generation_config.json")));
        using var reloaded = Checkpoint.Load(folder);
        AssertSameWeights(original, reloaded);
        // config.json says the same (the saved dtype is the model's: float32).
        var before = System.Text.Json.Nodes.JsonNode.Parse((original.Config with { TorchDtype = "float32" }).ToJson());
        var after = System.Text.Json.Nodes.JsonNode.Parse(reloaded.Config.ToJson());
        Assert.True(System.Text.Json.Nodes.JsonNode.DeepEquals(before, after), after!.ToJsonString());
        // No temporary folder is left next to the result.
        Assert.Single(Directory.GetFileSystemEntries(Path.GetDirectoryName(folder)!));
    }

    [Fact]
    public void Sharded_save_writes_index_and_reloads_identically()
    {
        using var original = Checkpoint.Load(Fixtures.Folder("llama-micro"));
        var folder = Path.Combine(Fixtures.TempFolder(), "sharded");
        Checkpoint.Save(original, folder, maxShardBytes: 20_000);
        var shards = Directory.GetFiles(folder, "model-*-of-*.safetensors");
        Assert.True(shards.Length > 2, $"{shards.Length} shards");
        Assert.False(File.Exists(Path.Combine(folder, "model.safetensors")));
        var index = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(folder, Checkpoint.IndexFile)))!;
        long totalBytes = original.parameters().Sum(p => p.NumberOfElements * 4);
        Assert.Equal(totalBytes, index["metadata"]!["total_size"]!.GetValue<long>());
        // HF's names (model-00001-of-0000N), every tensor in the shard the weight map names, shards within the limit
        // unless one tensor alone is larger.
        var map = index["weight_map"]!.AsObject().ToDictionary(kv => kv.Key, kv => kv.Value!.GetValue<string>());
        Assert.Equal(original.named_parameters().Select(p => p.name).Order(), map.Keys.Order());
        foreach (var shard in shards)
        {
            string file = Path.GetFileName(shard);
            Assert.Matches($"^model-000(0[1-9]|[1-9][0-9])-of-{shards.Length:D5}\\.safetensors$", file);
            using var reader = new SafeTensorsReader(shard);
            Assert.Equal(map.Where(kv => kv.Value == file).Select(kv => kv.Key).Order(), reader.Entries.Keys.Order());
            long bytes = reader.Entries.Values.Sum(e => e.End - e.Begin);
            Assert.True(bytes <= 20_000 || reader.Entries.Count == 1, $"{file}: {bytes} bytes");
        }
        Assert.Empty(Directory.GetDirectories(Path.GetDirectoryName(folder)!, ".*")); // the temporary folder is gone
        using var reloaded = Checkpoint.Load(folder);
        AssertSameWeights(original, reloaded);
    }

    [Fact]
    public void Bfloat16_save_rounds_like_torch_and_reloads()
    {
        // qwen2-micro is stored in BF16, so fp32 → BF16 on save must give back exactly the stored values.
        using var original = Checkpoint.Load(Fixtures.Folder("qwen2-micro"));
        var folder = Path.Combine(Fixtures.TempFolder(), "bf16");
        Checkpoint.Save(original, folder, saveDtype: ScalarType.BFloat16);
        Assert.Equal(File.ReadAllBytes(Path.Combine(Fixtures.Folder("qwen2-micro"), "model.safetensors")).Length,
            File.ReadAllBytes(Path.Combine(folder, "model.safetensors")).Length - HeaderGrowth(folder));
        using var reloaded = Checkpoint.Load(folder, ScalarType.BFloat16);
        Assert.Equal(ScalarType.BFloat16, reloaded.DType);
        AssertSameWeights(original, reloaded);
        Assert.Contains("\"torch_dtype\": \"bfloat16\"", File.ReadAllText(Path.Combine(folder, "config.json")));
    }

    static int HeaderGrowth(string folder)
    {
        // Headers differ only in JSON formatting; compare data sections by subtracting header sizes.
        static long Header(string f) { using var s = File.OpenRead(f); var b = new byte[8]; s.ReadExactly(b); return BitConverter.ToInt64(b); }
        return (int)(Header(Path.Combine(folder, "model.safetensors"))
                     - Header(Path.Combine(Fixtures.Folder("qwen2-micro"), "model.safetensors")));
    }

    [Fact]
    public void Overwriting_replaces_the_folder()
    {
        using var model = Checkpoint.Load(Fixtures.Folder("qwen2-micro"));
        var folder = Path.Combine(Fixtures.TempFolder(), "out");
        Checkpoint.Save(model, folder, maxShardBytes: 20_000);
        Checkpoint.Save(model, folder);
        Assert.Empty(Directory.GetFiles(folder, "model-*"));
        Assert.False(File.Exists(Path.Combine(folder, Checkpoint.IndexFile)));
        using var reloaded = Checkpoint.Load(folder);
        AssertSameWeights(model, reloaded);
    }

    static string CopyFixture(string model)
    {
        var folder = Path.Combine(Fixtures.TempFolder(), model);
        Directory.CreateDirectory(folder);
        foreach (var f in Directory.GetFiles(Fixtures.Folder(model))) File.Copy(f, Path.Combine(folder, Path.GetFileName(f)));
        return folder;
    }

    static void RewriteWeights(string folder, Func<List<(string Name, Tensor T)>, List<(string Name, Tensor T)>> edit)
    {
        var path = Path.Combine(folder, "model.safetensors");
        List<(string, Tensor)> tensors;
        using (var reader = new SafeTensorsReader(path))
            tensors = reader.Entries.Keys.Order().Select(n => (n, reader.Read(n))).ToList();
        File.Delete(path);
        SafeTensorsWriter.Write(path, edit(tensors));
    }

    [Fact]
    public void Missing_tensor_is_named()
    {
        var folder = CopyFixture("llama-micro");
        RewriteWeights(folder, ts => ts.Where(t => t.Name != "model.layers.1.mlp.up_proj.weight").ToList());
        var e = Assert.Throws<StepDpoException>(() => Checkpoint.Load(folder));
        Assert.Contains("missing tensors: model.layers.1.mlp.up_proj.weight", e.Message);
    }

    [Fact]
    public void Unexpected_tensor_is_named()
    {
        var folder = CopyFixture("llama-micro");
        RewriteWeights(folder, ts => [.. ts, ("model.layers.7.extra.weight", zeros(3))]);
        var e = Assert.Throws<StepDpoException>(() => Checkpoint.Load(folder));
        Assert.Contains("unexpected tensors: model.layers.7.extra.weight", e.Message);
    }

    [Fact]
    public void Mis_shaped_tensor_is_named_with_both_shapes()
    {
        var folder = CopyFixture("qwen2-micro");
        RewriteWeights(folder, ts => ts.Select(t => t.Name == "model.norm.weight" ? (t.Name, zeros(31)) : t).ToList());
        var e = Assert.Throws<StepDpoException>(() => Checkpoint.Load(folder));
        Assert.Contains("'model.norm.weight' has shape [31], the model expects [32]", e.Message);
    }

    [Fact]
    public void Truncated_file_is_an_error()
    {
        var folder = CopyFixture("qwen2-micro");
        var path = Path.Combine(folder, "model.safetensors");
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length - 100)]);
        var e = Assert.Throws<StepDpoException>(() => Checkpoint.Load(folder));
        Assert.Contains("data_offsets", e.Message);
    }

    [Fact]
    public void Bad_config_names_the_key()
    {
        var folder = CopyFixture("qwen2-micro");
        var config = Path.Combine(folder, "config.json");
        File.WriteAllText(config, File.ReadAllText(config).Replace("\"num_key_value_heads\": 2", "\"num_key_value_heads\": 3"));
        var e = Assert.Throws<StepDpoException>(() => Checkpoint.Load(folder));
        Assert.Contains("config.json: key 'num_key_value_heads'", e.Message);
        File.WriteAllText(config, File.ReadAllText(config).Replace("\"qwen2\"", "\"gpt2\""));
        e = Assert.Throws<StepDpoException>(() => Checkpoint.Load(folder));
        Assert.Contains("key 'model_type': 'gpt2' is not supported", e.Message);
    }

    [Fact]
    public void Random_init_is_deterministic_per_seed()
    {
        var config = Presets.Create("llama", "tiny", 300);
        using var a = new CausalLM(config); RandomInit.Apply(a, 7);
        using var b = new CausalLM(config); RandomInit.Apply(b, 7);
        using var c = new CausalLM(config); RandomInit.Apply(c, 8);
        AssertSameWeights(a, b);
        Assert.True(Fixtures.MaxAbsDiff(a.model.embed_tokens.weight, c.model.embed_tokens.weight) > 0.01);
        // HF-style init: N(0, 0.02²) matrices, unit norms.
        using var std = a.model.embed_tokens.weight.std();
        Assert.InRange(std.item<float>(), 0.019f, 0.021f);
        Assert.Equal(1.0, a.model.norm.weight.mean().item<float>(), 6);
    }

    [Theory]
    [InlineData("qwen2", "tiny", 64, true)]
    [InlineData("llama", "small", 256, false)]
    public void Presets_build_the_described_shapes(string arch, string preset, int hidden, bool tied)
    {
        var config = Presets.Create(arch, preset, 300);
        using var model = new CausalLM(config);
        RandomInit.Apply(model, 1);
        Assert.Equal(hidden, config.HiddenSize);
        Assert.Equal(tied, model.lm_head is null);
        using var noGrad = no_grad();
        using var logits = model.Forward(tensor(new long[] { 1, 2, 3 }).unsqueeze(0));
        Assert.Equal(new long[] { 1, 3, 300 }, logits.shape);
        Assert.True(logits.isfinite().all().item<bool>());
    }
}
