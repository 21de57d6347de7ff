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

    public Linear(int inFeatures, int outFeatures, bool hasBias, ScalarType dtype, Device? device) : base(nameof(Linear))
    {
        weight = new Parameter(empty(outFeatures, inFeatures, dtype: dtype, device: device));
        if (hasBias) bias = new Parameter(empty(outFeatures, dtype: dtype, device: device));
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

/// <summary>SwiGLU feed-forward: down(silu(gate(x)) ⊙ up(x)).</summary>
public sealed class SwiGluMlp : nn.Module<Tensor, Tensor>
{
    public readonly Linear gate_proj, up_proj, down_proj;

    public SwiGluMlp(ModelConfig c, ScalarType dtype, Device? device) : base(nameof(SwiGluMlp))
    {
        gate_proj = new Linear(c.HiddenSize, c.IntermediateSize, false, dtype, device);
        up_proj = new Linear(c.HiddenSize, c.IntermediateSize, false, dtype, device);
        down_proj = new Linear(c.IntermediateSize, c.HiddenSize, false, dtype, device);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var gate = gate_proj.forward(x);
        using var act = nn.functional.silu(gate);
        using var up = up_proj.forward(x);
        using var product = act * up;
        return down_proj.forward(product);
    }
}
