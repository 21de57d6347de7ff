using StepDpo.Core;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace StepDpo.Torch.Training;

/// <summary>
/// LoRA adapters on a model's linear layers without touching the model's code: a forward hook on each target Linear adds
/// (alpha / rank) * B (A x), with A ~ Kaiming-uniform and B = 0 (so training starts at the base model), and the base
/// weights are frozen. The model must invoke its Linear layers through call() (the TorchSharp path that runs hooks);
/// <see cref="EnsureHooksRan"/> detects a model that does not. <see cref="Merge"/> folds B A into the base weights and
/// removes the hooks, giving a plain checkpoint ("merged export").
/// </summary>
public sealed class LoraAdapters : IDisposable
{
    sealed class Adapter(string name, Linear target, Parameter a, Parameter b)
    {
        public readonly string Name = name; public readonly Linear Target = target;
        public readonly Parameter A = a, B = b;
        public long Calls;
        public Action? Remover;
    }

    readonly List<Adapter> adapters = [];
    readonly double scale;
    readonly List<(string, Parameter)> frozen = [];

    public LoraAdapters(nn.Module model, LoraOptions options, long seed)
    {
        scale = options.Scale;
        var generator = new Generator((ulong)seed, CPU);
        foreach (var (name, module) in model.named_modules())
        {
            if (module is not Linear linear || !options.TargetModules.Contains(name.Split('.')[^1])) continue;
            long outF = linear.weight!.shape[0], inF = linear.weight.shape[1];
            // Kaiming-uniform with a = sqrt(5) (nn.Linear's default init): U(-1/sqrt(in), 1/sqrt(in)).
            var a = (rand([options.Rank, inF], ScalarType.Float32, generator: generator) * 2 - 1) / Math.Sqrt(inF);
            var adapter = new Adapter(name, linear, new Parameter(a), new Parameter(zeros(outF, options.Rank)));
            var hook = linear.register_forward_hook((_, input, output) =>
            {
                adapter.Calls++;
                var dt = input.dtype;
                return output + F.linear(F.linear(input, adapter.A.to(dt)), adapter.B.to(dt)) * scale;
            });
            adapter.Remover = hook.remove;
            adapters.Add(adapter);
        }
        if (adapters.Count == 0)
            throw new StepDpoException($"train: key 'lora.target_modules' = [{string.Join(", ", options.TargetModules)}] matches no linear layer of the model");
        foreach (var (name, p) in model.named_parameters())
            if (p.requires_grad) { p.requires_grad_(false); frozen.Add((name, p)); }
    }

    /// <summary>The adapter weights, named after their layer: what the optimiser trains.</summary>
    public IReadOnlyList<(string Name, Parameter Parameter)> Parameters =>
        adapters.SelectMany(a => new[] { (a.Name + ".lora_A", a.A), (a.Name + ".lora_B", a.B) }).ToList();

    public int Count => adapters.Count;

    public void EnsureHooksRan()
    {
        var silent = adapters.Where(a => a.Calls == 0).Select(a => a.Name).ToList();
        if (silent.Count > 0)
            throw new InvalidOperationException($"LoRA: the model ran without calling {string.Join(", ", silent.Take(3))} through " +
                "Module.call(), so the adapters were never applied; models must call their Linear layers with call()");
    }

    /// <summary>W += (alpha / rank) B A in each target layer, then removes the hooks and unfreezes the base weights.</summary>
    public void Merge()
    {
        using var _ = no_grad();
        foreach (var a in adapters)
        {
            var w = a.Target.weight!;
            using var delta = a.B.matmul(a.A).mul(scale).to(w.dtype);
            w.add_(delta);
            a.Remover?.Invoke();
            a.Remover = null;
        }
        foreach (var (_, p) in frozen) p.requires_grad_(true);
        frozen.Clear();
    }

    public void Dispose()
    {
        foreach (var a in adapters) { a.Remover?.Invoke(); a.A.Dispose(); a.B.Dispose(); }
        adapters.Clear();
    }
}
