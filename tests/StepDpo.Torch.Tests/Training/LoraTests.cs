using System.Text.Json.Nodes;
using StepDpo.Core;
using StepDpo.Torch.Checkpoints;
using StepDpo.Torch.Model;
using StepDpo.Torch.Training;
using static TorchSharp.torch;

namespace StepDpo.Torch.Tests.Training;

/// <summary>LoRA on the real decoder: frozen base (no gradient, no optimiser state), exact adapter gradients, PEFT's
/// folder layout, and an adapter folder that loads as its base with the adapter merged.</summary>
public class LoraTests
{
    static CausalLM Model(ulong seed = 3, ScalarType dtype = ScalarType.Float32)
    {
        var m = new CausalLM(Presets.Create("qwen2", "tiny", 260), dtype);
        RandomInit.Apply(m, seed, perturbNormsAndBiases: true);
        return m;
    }

    static LoraOptions Options(params string[] targets) => new() { Rank = 4, Alpha = 6, TargetModules = targets };

    /// <summary>Moves every B away from zero (training starts at B = 0, where the adapter does nothing).</summary>
    static void Perturb(LoraAdapters lora)
    {
        using var _ = no_grad();
        var g = new Generator(11);
        foreach (var (name, p) in lora.Parameters.Where(p => p.Name.EndsWith(".lora_B")))
            p.add_(randn(p.shape, generator: g).mul_(0.05).to(p.dtype));
    }

    static double Loss(ICausalLM model, List<TokenizedPair> pairs)
    {
        using var batch = SharedPrefixBatch.Build(pairs);
        using var lp = SharedPrefixBatch.Forward(model, batch);
        using var loss = -(lp.Chosen.sum() - 0.5 * lp.Rejected.sum());
        loss.backward();
        return loss.item<float>();
    }

    [Fact]
    public void The_frozen_base_gets_no_gradient_and_the_adapter_gradients_are_the_exact_low_rank_ones()
    {
        var pairs = TestPairs.Random(2, prefix: 12, step: 4, vocab: 250);
        using var model = Model();
        model.train();
        using var lora = new LoraAdapters(model, Options("q_proj", "down_proj"), seed: 1);
        Perturb(lora);
        Assert.Equal(4, lora.Count); // 2 layers x 2 targets
        Assert.All(model.parameters(), p => Assert.False(p.requires_grad));
        double adapted = Loss(model, pairs);
        Assert.All(model.parameters(), p => Assert.Null(p.grad));
        Assert.All(lora.Parameters, p => Assert.NotNull(p.Parameter.grad));

        // The same loss through merged weights W' = W + s B A, with autograd on W': dL/dA = s Bᵀ G, dL/dB = s G Aᵀ.
        using var merged = Model();
        merged.train();
        var adapters = lora.Parameters.ToDictionary(p => p.Name, p => p.Parameter);
        var layers = merged.named_modules().Where(m => m.module is Linear).ToDictionary(m => m.name, m => (Linear)m.module);
        foreach (var name in adapters.Keys.Where(n => n.EndsWith(".lora_A")).Select(n => n[..^".lora_A".Length]))
            LowRankAdapter.MergeInto(layers[name].weight, adapters[name + ".lora_A"], adapters[name + ".lora_B"], 1.5);
        Assert.Equal(adapted, Loss(merged, pairs), 4);
        foreach (var name in adapters.Keys.Where(n => n.EndsWith(".lora_A")).Select(n => n[..^".lora_A".Length]))
        {
            var g = layers[name].weight.grad!;
            var (a, b) = (adapters[name + ".lora_A"], adapters[name + ".lora_B"]);
            Assert.True(allclose(a.grad!, b.t().matmul(g) * 1.5, 1e-4, 1e-5), name + ".lora_A");
            Assert.True(allclose(b.grad!, g.matmul(a.t()) * 1.5, 1e-4, 1e-5), name + ".lora_B");
        }

        lora.Dispose();
        Assert.All(model.parameters(), p => Assert.True(p.requires_grad));
        Assert.All(model.named_modules().Select(m => m.module).OfType<Linear>(), l => Assert.Null(l.Adapter));
    }

    [Fact]
    public void Training_keeps_the_base_frozen_keeps_optimizer_state_for_the_adapters_only_and_merges_at_the_end()
    {
        using var dir = new TempDir();
        using var model = Model(seed: 8, dtype: ScalarType.BFloat16);
        var before = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.to(ScalarType.Float32).data<float>().ToArray());
        var opts = new TrainOptions { LearningRate = 1e-2, Epochs = 1, MicroBatchSize = 2, MaxLength = 64, MaxPromptLength = 32,
            Dtype = "bfloat16", GradientCheckpointing = true, Lora = new LoraOptions { Rank = 4, TargetModules = ["q_proj", "v_proj"] } };
        var saved = new List<Dictionary<string, float[]>>();
        var result = StepDpoTrainer.Train(model, TestPairs.Random(4, 10, 3, vocab: 250), null, opts, dir.Path, saveModel: folder =>
        {
            // Every save (checkpoint and final) sees the base as it was: only the adapters move during training.
            saved.Add(model.named_parameters().ToDictionary(p => p.name, p => p.parameter.to(ScalarType.Float32).data<float>().ToArray()));
            PeftAdapter.Save(model, folder, baseModel: "base");
            return Task.CompletedTask;
        });
        Assert.True(double.IsFinite(result.LastStep!["loss"]));
        Assert.Equal(2, saved.Count);
        Assert.All(saved, s => Assert.All(s, kv => Assert.Equal(before[kv.Key], kv.Value)));

        // The optimiser state of the checkpoint covers the 2 x 2 x 2 adapter matrices and nothing else.
        string checkpoint = Assert.Single(Directory.GetDirectories(dir.Path, "checkpoint-*"));
        using (var state = new SafeTensorsReader(Path.Combine(checkpoint, "optimizer.safetensors")))
        {
            var names = state.Entries.Keys.Select(k => k[..k.LastIndexOf('.')]).Distinct().Order().ToList();
            Assert.Equal(8, names.Count);
            Assert.All(names, n => Assert.Matches(@"^model\.layers\.[01]\.self_attn\.[qv]_proj\.lora_[AB]$", n));
        }
        Assert.True(File.Exists(Path.Combine(dir.Path, "final", PeftAdapter.WeightsFile)));

        // After training the adapters are merged: the targets moved, nothing else did, and the model is unfrozen.
        foreach (var (name, p) in model.named_parameters())
        {
            bool target = name.EndsWith("q_proj.weight") || name.EndsWith("v_proj.weight");
            bool same = before[name].SequenceEqual(p.to(ScalarType.Float32).data<float>().ToArray());
            Assert.True(target ? !same : same, name);
            Assert.True(p.requires_grad, name);
        }
    }

    [Fact]
    public void The_adapter_folder_has_peft_names_and_config_and_loads_as_the_base_with_the_adapter_merged()
    {
        string root = Fixtures.TempFolder();
        string baseDir = Path.Combine(root, "base"), adapterDir = Path.Combine(root, "adapter");
        using var model = Model(seed: 5);
        Checkpoint.Save(model, baseDir);
        using var lora = new LoraAdapters(model, Options("q_proj", "up_proj"), seed: 2);
        Perturb(lora);
        PeftAdapter.Save(model, adapterDir, baseModel: baseDir);

        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(adapterDir, PeftAdapter.ConfigFile)))!;
        Assert.Equal("LORA", config["peft_type"]!.GetValue<string>());
        Assert.Equal("CAUSAL_LM", config["task_type"]!.GetValue<string>());
        Assert.Equal(4, config["r"]!.GetValue<int>());
        Assert.Equal(6, config["lora_alpha"]!.GetValue<int>());
        Assert.Equal("none", config["bias"]!.GetValue<string>());
        Assert.Equal(baseDir, config["base_model_name_or_path"]!.GetValue<string>());
        Assert.Equal(["q_proj", "up_proj"], config["target_modules"]!.AsArray().Select(n => n!.GetValue<string>()));
        Assert.False(File.Exists(Path.Combine(adapterDir, Checkpoint.ConfigFile)));
        using (var reader = new SafeTensorsReader(Path.Combine(adapterDir, PeftAdapter.WeightsFile)))
        {
            Assert.Equal(8, reader.Entries.Count);
            var a = reader.Entries["base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"];
            var b = reader.Entries["base_model.model.model.layers.1.mlp.up_proj.lora_B.weight"];
            Assert.Equal([4L, 64], a.Shape);
            Assert.Equal([172L, 4], b.Shape);
        }

        using var ids = tensor(new long[] { 5, 17, 99, 3, 250, 42 }, [1, 6]);
        using var _ = no_grad();
        using var expected = model.Forward(ids);
        using var loaded = Checkpoint.Load(adapterDir);
        using var actual = loaded.Forward(ids);
        Assert.True(Fixtures.MaxAbsDiff(expected, actual) < 1e-4, $"{Fixtures.MaxAbsDiff(expected, actual)}");
        using var plain = Checkpoint.Load(baseDir);
        using var baseLogits = plain.Forward(ids);
        Assert.True(Fixtures.MaxAbsDiff(baseLogits, actual) > 1e-3, "the adapter changed nothing");
    }

    [Fact]
    public void A_bad_adapter_folder_is_an_error_that_names_the_key_or_tensor()
    {
        string root = Fixtures.TempFolder();
        string baseDir = Path.Combine(root, "base"), adapterDir = Path.Combine(root, "adapter");
        using var model = Model();
        Checkpoint.Save(model, baseDir);
        using (var lora = new LoraAdapters(model, Options("k_proj"), seed: 2))
            PeftAdapter.Save(model, adapterDir, baseModel: Path.Combine(root, "missing"));
        var e = Assert.Throws<StepDpoException>(() => Checkpoint.Load(adapterDir));
        Assert.Contains("key 'base_model_name_or_path'", e.Message);

        string configPath = Path.Combine(adapterDir, PeftAdapter.ConfigFile);
        var config = JsonNode.Parse(File.ReadAllText(configPath))!;
        config["base_model_name_or_path"] = "../base"; // relative to the adapter folder
        config["use_dora"] = true;
        File.WriteAllText(configPath, config.ToJsonString());
        e = Assert.Throws<StepDpoException>(() => Checkpoint.Load(adapterDir));
        Assert.Contains("key 'use_dora'", e.Message);

        config["use_dora"] = false;
        config["r"] = 8;
        File.WriteAllText(configPath, config.ToJsonString());
        e = Assert.Throws<StepDpoException>(() => Checkpoint.Load(adapterDir));
        Assert.Contains("model.layers.0.self_attn.k_proj", e.Message);
        Assert.Contains("r = 8", e.Message);

        var wrongTargets = Assert.Throws<StepDpoException>(() => new LoraAdapters(model, Options("gate"), 1));
        Assert.Contains("'lora.target_modules'", wrongTargets.Message);
    }
}
