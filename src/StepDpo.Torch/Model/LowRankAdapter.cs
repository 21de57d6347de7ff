using TorchSharp;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace StepDpo.Torch.Model;

#pragma warning disable IDE1006 // PEFT's parameter names (lora_A, lora_B), see Layers.cs

/// <summary>
/// LoRA's low-rank update of a linear layer (Hu et al. 2021): Δy = s · B A x with A: [r, in], B: [out, r] and
/// s = alpha / r, so that the layer computes W x + b + s B A x while W stays as it was. Attached to a
/// <see cref="Linear"/> by the trainer (Training/Lora.cs); the math is here so the model reads as what it computes.
/// </summary>
public sealed class LowRankAdapter : nn.Module<Tensor, Tensor>
{
    public readonly Parameter lora_A, lora_B;
    public double Scale { get; }

    public LowRankAdapter(Tensor a, Tensor b, double scale) : base(nameof(LowRankAdapter))
    {
        lora_A = new Parameter(a);
        lora_B = new Parameter(b);
        Scale = scale;
        RegisterComponents();
    }

    public int Rank => (int)lora_A.shape[0];

    /// <summary>s · B (A x), scaled at rank r where the tensor is smallest.</summary>
    public override Tensor forward(Tensor x)
    {
        using var down = nn.functional.linear(x, lora_A);
        using var s = Scale.ToScalar();
        using var scaled = down.mul(s);
        return nn.functional.linear(scaled, lora_B);
    }

    /// <summary>W += s B A: the layer then computes alone what it computed with this adapter.</summary>
    public void MergeInto(Tensor weight) => MergeInto(weight, lora_A, lora_B, Scale);

    /// <summary>W += s B A, computed in fp32 and rounded once to the weight's dtype (also for adapters read from files).</summary>
    public static void MergeInto(Tensor weight, Tensor a, Tensor b, double scale)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var delta = b.to(ScalarType.Float32, weight.device).matmul(a.to(ScalarType.Float32, weight.device)).mul_(scale);
        weight.copy_(weight.to(ScalarType.Float32).add_(delta));
    }
}
