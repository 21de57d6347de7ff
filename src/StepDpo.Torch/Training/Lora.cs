using StepDpo.Core;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace StepDpo.Torch.Training;

/// <summary>
/// LoRA adapters for any model, without hooks or changes to its code: each target layer's weight is kept equal to
/// W0 + (alpha / rank) B A (A ~ U(-1/sqrt(in), 1/sqrt(in)), B = 0, so training starts at the base model). The model
/// computes dL/dW_eff as usual; <see cref="ProjectGradients"/> turns it into the exact LoRA gradients
/// dL/dA = s B^T G and dL/dB = s G A^T (G = dL/dW_eff, s = alpha / rank) and <see cref="Refresh"/> rebuilds W_eff after the
/// optimiser moved A and B. All other weights are frozen. The optimiser state covers only A and B, which is where full
/// fine-tuning spends its memory (fp32 master weights and two moments per parameter); the price is a transient gradient
/// for the target matrices and one base copy of them. The model always holds the merged weights, so
/// <see cref="Merge"/> only ends the adapter bookkeeping: the export is a plain checkpoint.
/// A target is a module whose name ends in one of the target names and that owns a 2-D parameter named "weight".
/// </summary>
public sealed class LoraAdapters : IDisposable
{
    sealed record Adapter(string Name, Parameter Weight, Tensor Base, Parameter A, Parameter B);

    readonly List<Adapter> adapters = [];
    readonly List<Parameter> frozen = [];
    readonly double scale;

    public LoraAdapters(nn.Module model, LoraOptions options, long seed)
    {
        scale = options.Scale;
        var generator = new Generator((ulong)seed, CPU);
        using var _ = no_grad();
        foreach (var (name, module) in model.named_modules())
        {
            if (name.Length == 0 || !options.TargetModules.Contains(name.Split('.')[^1])) continue;
            var weight = module.named_parameters(recurse: false).Where(p => p.name == "weight" && p.parameter.dim() == 2)
                .Select(p => p.parameter).FirstOrDefault();
            if (weight is null) continue;
            long outF = weight.shape[0], inF = weight.shape[1];
            // Drawn on the host from the seeded CPU generator (same adapters on every device), then moved.
            var a = ((rand([options.Rank, inF], ScalarType.Float32, device: CPU, generator: generator) * 2 - 1) / Math.Sqrt(inF)).to(weight.device);
            var b = zeros([outF, options.Rank], ScalarType.Float32, device: weight.device);
            adapters.Add(new Adapter(name, weight, weight.detach().clone().DetachFromDisposeScope(), new Parameter(a), new Parameter(b)));
        }
        if (adapters.Count == 0)
            throw new StepDpoException($"train: key 'lora.target_modules' = [{string.Join(", ", options.TargetModules)}] matches no linear layer of the model");
        var targets = adapters.Select(a => a.Name + ".weight").ToHashSet();
        foreach (var (pname, p) in model.named_parameters())
        {
            bool isTarget = targets.Contains(pname);
            if (p.requires_grad && !isTarget) { p.requires_grad_(false); frozen.Add(p); }
            if (isTarget) p.requires_grad_(true);
        }
    }

    /// <summary>The adapter weights, named after their layer: what the optimiser trains.</summary>
    public IReadOnlyList<(string Name, Parameter Parameter)> Parameters =>
        adapters.SelectMany(a => new[] { (a.Name + ".lora_A", a.A), (a.Name + ".lora_B", a.B) }).ToList();

    public int Count => adapters.Count;

    /// <summary>After backward: LoRA gradients from the target weights' gradients (which are then dropped).</summary>
    public void ProjectGradients()
    {
        using var _ = no_grad();
        foreach (var a in adapters)
        {
            if (a.Weight.grad is not Tensor g) continue;
            using var scope = NewDisposeScope();
            var g32 = g.to(ScalarType.Float32);
            var gradA = a.B.t().matmul(g32).mul_(scale);
            var gradB = g32.matmul(a.A.t()).mul_(scale);
            a.A.grad = a.A.grad is Tensor ga ? (ga + gradA).MoveToOuterDisposeScope() : gradA.MoveToOuterDisposeScope();
            a.B.grad = a.B.grad is Tensor gb ? (gb + gradB).MoveToOuterDisposeScope() : gradB.MoveToOuterDisposeScope();
            a.Weight.grad = null;
        }
    }

    /// <summary>W = W0 + s B A in every target layer (after an optimiser step or a resume).</summary>
    public void Refresh()
    {
        using var _ = no_grad();
        foreach (var a in adapters)
        {
            using var scope = NewDisposeScope();
            a.Weight.copy_((a.Base.to(ScalarType.Float32) + a.B.matmul(a.A).mul(scale)).to(a.Weight.dtype));
        }
    }

    /// <summary>Leaves the merged weights in the model, unfreezes it and drops the adapter state.</summary>
    public void Merge()
    {
        Refresh();
        Dispose();
    }

    public void Dispose()
    {
        foreach (var p in frozen) p.requires_grad_(true);
        frozen.Clear();
        foreach (var a in adapters) a.Base.Dispose();
        adapters.Clear();
    }
}
