using StepDpo.Core;
using StepDpo.Torch.Model;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace StepDpo.Torch.Training;

/// <summary>
/// LoRA training: a <see cref="LowRankAdapter"/> on every target linear layer of the model, and every weight of the
/// model frozen (requires_grad false). Backward then computes no weight gradient and the optimiser holds state for A and
/// B only, so the memory of full fine-tuning's gradients, fp32 master weights and moments (14 bytes per bf16 parameter)
/// shrinks to the adapters'. A starts as U(-1/sqrt(in), 1/sqrt(in)) (PEFT's default), B as zeros, so training starts
/// at the base model, and the adapters are in the model's dtype (the optimiser keeps their fp32 masters).
/// A target is a <see cref="Linear"/> whose module name ends in one of the target names (q_proj matches
/// model.layers.3.self_attn.q_proj). Checkpoints/PeftAdapter saves the adapters in PEFT's layout.
/// </summary>
public sealed class LoraAdapters : IDisposable
{
    readonly List<(string Name, Model.Linear Layer, LowRankAdapter Adapter)> targets = [];
    readonly List<Parameter> frozen = [];

    public LoraAdapters(nn.Module model, LoraOptions options, long seed)
    {
        var generator = new Generator((ulong)seed, CPU);
        using (no_grad())
        {
            foreach (var (name, module) in model.named_modules())
            {
                if (module is not Model.Linear layer || !options.TargetModules.Contains(name.Split('.')[^1])) continue;
                if (layer.Adapter is not null) throw new InvalidOperationException($"{name} already has a LoRA adapter");
                var w = layer.weight;
                long outFeatures = w.shape[0], inFeatures = w.shape[1];
                // Drawn on the host from the seeded CPU generator (the same adapters on every device), then moved.
                var a = rand([options.Rank, inFeatures], ScalarType.Float32, device: CPU, generator: generator).mul_(2).sub_(1).div_(Math.Sqrt(inFeatures));
                var adapter = new LowRankAdapter(a.to(w.dtype, w.device), zeros([outFeatures, options.Rank], w.dtype, device: w.device), options.Scale);
                layer.Adapter = adapter;
                targets.Add((name, layer, adapter));
            }
        }
        if (targets.Count == 0)
            throw new StepDpoException($"train: key 'lora.target_modules' = [{string.Join(", ", options.TargetModules)}] matches no linear layer of the model");
        foreach (var p in model.parameters())
            if (p.requires_grad) { p.requires_grad_(false); frozen.Add(p); }
    }

    /// <summary>The adapter weights, named after their layer (NAME.lora_A, NAME.lora_B): all the optimiser trains.</summary>
    public IReadOnlyList<(string Name, Parameter Parameter)> Parameters =>
        targets.SelectMany(t => new[] { (t.Name + ".lora_A", t.Adapter.lora_A), (t.Name + ".lora_B", t.Adapter.lora_B) }).ToList();

    public int Count => targets.Count;

    /// <summary>Folds the adapters into the weights (W += s B A, in fp32, rounded once to the weight dtype), detaches
    /// them and unfreezes the model: it is then a plain model that computes what the adapted one did.</summary>
    public void Merge()
    {
        using (no_grad())
            foreach (var (_, layer, adapter) in targets) adapter.MergeInto(layer.weight);
        Dispose();
    }

    /// <summary>Detaches the adapters (the model computes its base weights again) and unfreezes the model.</summary>
    public void Dispose()
    {
        foreach (var (_, layer, adapter) in targets)
        {
            layer.Adapter = null;
            adapter.Dispose();
        }
        targets.Clear();
        foreach (var p in frozen) p.requires_grad_(true);
        frozen.Clear();
    }
}
