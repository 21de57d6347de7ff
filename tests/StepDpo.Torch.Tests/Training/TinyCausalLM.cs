using StepDpo.Torch.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace StepDpo.Torch.Tests.Training;

/// <summary>
/// A small real decoder (embedding, pre-RMSNorm blocks with rotary attention honouring positionIds and the boolean
/// mask, SiLU MLP, LM head) standing in for the Qwen2 model until it lands. Module names follow HF
/// (layers.N.self_attn.q_proj) so LoRA target names work the same.
/// </summary>
public sealed class TinyCausalLM : nn.Module, ICausalLM, IGradientCheckpointable
{
    readonly Embedding embed_tokens;
    readonly ModuleList<TinyBlock> layers;
    readonly RmsNorm norm;
    readonly Linear lm_head;
    readonly int headDim;

    public TinyCausalLM(int vocab = 260, int dim = 32, int layerCount = 2, int heads = 4, long seed = 1) : base("TinyCausalLM")
    {
        VocabSize = vocab;
        headDim = dim / heads;
        embed_tokens = nn.Embedding(vocab, dim);
        layers = new ModuleList<TinyBlock>(Enumerable.Range(0, layerCount).Select(_ => new TinyBlock(dim, heads)).ToArray());
        norm = new RmsNorm(dim);
        lm_head = nn.Linear(dim, vocab, hasBias: false);
        RegisterComponents();
        // Drawn from a generator of its own: test classes run in parallel, and the trainer seeds the global one, so
        // weights drawn from it depended on what ran beside (a resume test saw another start model now and then).
        // The distributions of torch's defaults: linear layers U(±1/√fan_in), embeddings N(0, 1); norms stay 1.
        using var generator = new torch.Generator((ulong)seed);
        using (no_grad())
            foreach (var (name, p) in named_parameters())
            {
                if (name.EndsWith("norm.weight", StringComparison.Ordinal) || name.Contains("layernorm")) continue;
                using var values = name.StartsWith("embed_tokens", StringComparison.Ordinal)
                    ? randn(p.shape, generator: generator)
                    : (rand(p.shape, generator: generator) * 2 - 1) / Math.Sqrt(FanIn(name));
                p.copy_(values);
            }
    }

    /// <summary>Input width of the linear layer a parameter belongs to (its bias included).</summary>
    long FanIn(string name)
    {
        string weight = name.EndsWith(".bias", StringComparison.Ordinal) ? name[..^".bias".Length] + ".weight" : name;
        return named_parameters().First(p => p.name == weight).parameter.shape[1];
    }

    public nn.Module Module => this;
    public int VocabSize { get; }
    public bool GradientCheckpointing { get; set; }

    public Tensor Forward(Tensor inputIds, Tensor? positionIds = null, Tensor? attentionMask = null)
    {
        using var scope = NewDisposeScope();
        long t = inputIds.shape[1];
        positionIds ??= arange(t, ScalarType.Int64).unsqueeze(0).expand(inputIds.shape[0], t);
        var x = embed_tokens.forward(inputIds);
        var (cos, sin) = Rotary(positionIds, x.dtype);
        foreach (var block in layers)
        {
            x = GradientCheckpointing && training
                ? ActivationCheckpoint.Apply((h, c) => block.Forward(h, c[0], c[1], attentionMask), x, cos, sin)
                : block.Forward(x, cos, sin, attentionMask);
        }
        return lm_head.call(norm.forward(x)).to(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    (Tensor Cos, Tensor Sin) Rotary(Tensor positionIds, ScalarType dtype)
    {
        var invFreq = pow(10000.0, -arange(0, headDim, 2, ScalarType.Float32) / headDim);
        var angles = positionIds.to(ScalarType.Float32).unsqueeze(-1) * invFreq; // [B,T,hd/2]
        return (angles.cos().unsqueeze(1).to(dtype), angles.sin().unsqueeze(1).to(dtype)); // [B,1,T,hd/2]
    }
}

sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    readonly Parameter weight;
    public RmsNorm(int dim) : base("RmsNorm") { weight = nn.Parameter(ones(dim)); RegisterComponents(); }
    public override Tensor forward(Tensor x)
    {
        var f = x.to(ScalarType.Float32);
        return (f * (f.pow(2).mean([-1], keepdim: true) + 1e-6).rsqrt()).to(x.dtype) * weight;
    }
}

sealed class TinyAttention : nn.Module
{
    readonly Linear q_proj, k_proj, v_proj, o_proj;
    readonly int heads;
    public TinyAttention(int dim, int heads) : base("TinyAttention")
    {
        this.heads = heads;
        q_proj = nn.Linear(dim, dim); k_proj = nn.Linear(dim, dim); v_proj = nn.Linear(dim, dim);
        o_proj = nn.Linear(dim, dim, hasBias: false);
        RegisterComponents();
    }

    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor? mask)
    {
        long b = x.shape[0], t = x.shape[1], d = x.shape[2];
        Tensor Heads(Tensor y) => y.view(b, t, heads, d / heads).transpose(1, 2);
        var q = Rotate(Heads(q_proj.call(x)), cos, sin);
        var k = Rotate(Heads(k_proj.call(x)), cos, sin);
        var v = Heads(v_proj.call(x));
        var o = mask is null
            ? F.scaled_dot_product_attention(q, k, v, is_casual: true)
            : F.scaled_dot_product_attention(q, k, v, attn_mask: mask);
        return o_proj.call(o.transpose(1, 2).reshape(b, t, d));
    }

    static Tensor Rotate(Tensor x, Tensor cos, Tensor sin)
    {
        long half = x.shape[^1] / 2;
        var x1 = x[.., .., .., ..(int)half];
        var x2 = x[.., .., .., (int)half..];
        return cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], -1);
    }
}

sealed class TinyBlock : nn.Module
{
    readonly RmsNorm input_layernorm, post_attention_layernorm;
    readonly TinyAttention self_attn;
    readonly Linear up_proj, down_proj;
    public TinyBlock(int dim, int heads) : base("TinyBlock")
    {
        input_layernorm = new RmsNorm(dim); post_attention_layernorm = new RmsNorm(dim);
        self_attn = new TinyAttention(dim, heads);
        up_proj = nn.Linear(dim, 4 * dim); down_proj = nn.Linear(4 * dim, dim);
        RegisterComponents();
    }

    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor? mask)
    {
        var h = x + self_attn.Forward(input_layernorm.forward(x), cos, sin, mask);
        return h + down_proj.call(F.silu(up_proj.call(post_attention_layernorm.forward(h))));
    }
}
