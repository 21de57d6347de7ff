using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace StepDpo.Torch.Model;

// Field names in these modules are the Hugging Face parameter names (weight, bias, q_proj, ...): TorchSharp names
// parameters after fields, so state_dict() keys are exactly the safetensors keys and loading needs no rename table.
// Parameters are created with torch.empty, on the run's device, so that building a large model commits no memory before
// its weights are loaded into it (the checkpoint never exists twice in memory, and never on the wrong device).
#pragma warning disable IDE1006 // HF naming on purpose, see above

/// <summary>y = x Wᵀ + b, W: [out, in]; plus s B A x when a LoRA <see cref="Adapter"/> is attached.</summary>
public sealed class Linear : nn.Module<Tensor, Tensor>
{
    public readonly Parameter weight;
    public readonly Parameter? bias;
    /// <summary>Attached by the LoRA trainer after construction, so it is not a registered submodule: the model's
    /// parameters and checkpoint keys stay the HF ones, and the adapter is saved in PEFT's layout on its own.</summary>
    public LowRankAdapter? Adapter { get; set; }

    public Linear(int inFeatures, int outFeatures, bool hasBias, ScalarType dtype, Device? device)
        : this(empty(outFeatures, inFeatures, dtype: dtype, device: device), hasBias ? empty(outFeatures, dtype: dtype, device: device) : null) { }

    /// <summary>Parameters over the given (uninitialised) tensors; they may be views of a larger one (<see cref="FusedProjection"/>).</summary>
    public Linear(Tensor weight, Tensor? bias) : base(nameof(Linear))
    {
        this.weight = new Parameter(weight);
        if (bias is not null) this.bias = new Parameter(bias);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        if (Adapter is null) return nn.functional.linear(x, weight, bias);
        using var y = nn.functional.linear(x, weight, bias);
        using var delta = Adapter.forward(x);
        return Ops.Add(y, delta);
    }
}

/// <summary>Token id to row of the embedding matrix [vocab, hidden].</summary>
public sealed class Embedding : nn.Module<Tensor, Tensor>
{
    public readonly Parameter weight;

    public Embedding(int vocab, int hidden, ScalarType dtype, Device? device) : base(nameof(Embedding))
    {
        weight = new Parameter(empty(vocab, hidden, dtype: dtype, device: device));
        RegisterComponents();
    }

    public override Tensor forward(Tensor ids)
    {
        var shape = ids.shape.Append(weight.shape[1]).ToArray();
        using var flat = ids.reshape(-1);
        using var rows = weight.index_select(0, flat);
        return rows.view(shape);
    }
}

/// <summary>RMSNorm: y = w ⊙ (x / sqrt(mean(x²) + ε)), the normalisation computed in float32 whatever the model dtype
/// (as Hugging Face does), then cast back before the weight multiplies it.</summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    public readonly Parameter weight;
    readonly double eps;

    public RmsNorm(int hidden, double eps, ScalarType dtype, Device? device) : base(nameof(RmsNorm))
    {
        weight = new Parameter(ones(hidden, dtype: dtype, device: device));
        this.eps = eps;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var x32 = x.to(ScalarType.Float32);
        var meanSquare = Ops.Pow(x32, 2).mean([-1], keepdim: true);
        var normalised = (x32 * rsqrt(Ops.Add(meanSquare, eps))).to(x.dtype);
        return scope.MoveToOuter(weight * normalised);
    }
}

/// <summary>SwiGLU feed-forward: down(silu(gate(x)) ⊙ up(x)); gate and up are one matmul without gradients.</summary>
public sealed class SwiGluMlp : nn.Module<Tensor, Tensor>
{
    public readonly Linear gate_proj, up_proj, down_proj;
    readonly FusedProjection gateUp;

    public SwiGluMlp(ModelConfig c, ScalarType dtype, Device? device) : base(nameof(SwiGluMlp))
    {
        gateUp = new FusedProjection(c.HiddenSize, [c.IntermediateSize, c.IntermediateSize], false, dtype, device);
        (gate_proj, up_proj) = (gateUp.Layers[0], gateUp.Layers[1]);
        down_proj = new Linear(c.IntermediateSize, c.HiddenSize, false, dtype, device);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        Tensor gate, up;
        if (gateUp.Usable)
        {
            var both = gateUp.Forward(x);
            (gate, up) = (gateUp.Split(both, 0), gateUp.Split(both, 1));
        }
        else (gate, up) = (gate_proj.forward(x), up_proj.forward(x));
        return scope.MoveToOuter(down_proj.forward(nn.functional.silu(gate) * up));
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) gateUp.Dispose();
        base.Dispose(disposing);
    }
}

/// <summary>
/// Linear layers that read the same input (q, k, v; gate, up) with their weights (and biases) rows of one tensor: each
/// layer's parameter is a view of its rows, so loading, saving, the optimiser and the gradients see the usual separate
/// parameters (the HF names), while a forward without gradients runs them as one matmul. At batch 1 a bf16 matmul on
/// the CPU costs ~40 µs whatever its size (oneDNN's setup), so a decode step's 7 matmuls per layer become 4. A layer
/// whose parameter was replaced (Module.to converts by replacing) no longer shares the fused rows; then the layers run
/// separately.
/// </summary>
public sealed class FusedProjection : IDisposable
{
    readonly Tensor weight;
    readonly Tensor? bias;
    readonly Parameter[] views;
    readonly long[] starts, widths;
    public Linear[] Layers { get; }

    public FusedProjection(int inFeatures, int[] outFeatures, bool hasBias, ScalarType dtype, Device? device)
    {
        long total = outFeatures.Sum(n => (long)n);
        weight = empty(total, inFeatures, dtype: dtype, device: device).DetachFromDisposeScope();
        bias = hasBias ? empty(total, dtype: dtype, device: device).DetachFromDisposeScope() : null;
        widths = outFeatures.Select(n => (long)n).ToArray();
        starts = new long[widths.Length];
        for (int i = 1; i < widths.Length; i++) starts[i] = starts[i - 1] + widths[i - 1];
        Layers = widths.Select((n, i) => new Linear(weight.narrow(0, starts[i], n), bias?.narrow(0, starts[i], n))).ToArray();
        views = Layers.SelectMany(l => l.bias is null ? new[] { l.weight } : [l.weight, l.bias]).ToArray();
    }

    /// <summary>Without gradients, without LoRA adapters, and while every layer's parameters are still the views of the
    /// fused rows.</summary>
    public bool Usable
    {
        get
        {
            if (is_grad_enabled()) return false;
            int at = 0; // a loop, not LINQ: asked in every layer of every decode step
            foreach (var layer in Layers)
            {
                if (layer.Adapter is not null || !ReferenceEquals(layer.weight, views[at++])) return false;
                if (layer.bias is not null && !ReferenceEquals(layer.bias, views[at++])) return false;
            }
            return true;
        }
    }

    /// <summary>All layers' outputs side by side, [..., Σ out].</summary>
    public Tensor Forward(Tensor x) => nn.functional.linear(x, weight, bias);

    /// <summary>Layer <paramref name="i"/>'s part of <see cref="Forward"/>'s output (a view).</summary>
    public Tensor Split(Tensor fused, int i) => fused.narrow(-1, starts[i], widths[i]);

    public void Dispose()
    {
        weight.Dispose();
        bias?.Dispose();
    }
}
