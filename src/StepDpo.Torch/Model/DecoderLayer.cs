using static TorchSharp.torch;

namespace StepDpo.Torch.Model;

#pragma warning disable IDE1006 // HF parameter names, see Layers.cs

/// <summary>Pre-norm transformer block: h = x + Attn(RMSNorm(x)); y = h + MLP(RMSNorm(h)).</summary>
public sealed class DecoderLayer : nn.Module
{
    public readonly Attention self_attn;
    public readonly SwiGluMlp mlp;
    public readonly RmsNorm input_layernorm, post_attention_layernorm;

    public DecoderLayer(ModelConfig c, int index, ScalarType dtype, Device? device) : base(nameof(DecoderLayer))
    {
        self_attn = new Attention(c, index, dtype, device);
        mlp = new SwiGluMlp(c, dtype, device);
        input_layernorm = new RmsNorm(c.HiddenSize, c.RmsNormEps, dtype, device);
        post_attention_layernorm = new RmsNorm(c.HiddenSize, c.RmsNormEps, dtype, device);
        RegisterComponents();
    }

    /// <summary>A pure function of (hidden, rotary angles, mask) when <paramref name="cache"/> is null, so a trainer
    /// can recompute it in the backward pass (activation checkpointing).</summary>
    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor? mask, KvCache? cache)
    {
        using var scope = NewDisposeScope();
        var h = Ops.Add(x, self_attn.Forward(input_layernorm.forward(x), cos, sin, mask, cache));
        return scope.MoveToOuter(Ops.Add(h, mlp.forward(post_attention_layernorm.forward(h))));
    }
}
