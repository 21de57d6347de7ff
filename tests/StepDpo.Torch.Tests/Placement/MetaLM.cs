using StepDpo.Torch.Model;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace StepDpo.Torch.Tests.Placement;

/// <summary>
/// A one-block decoder made of the real model's layers (Linear, RmsNorm, SwiGluMlp, Rotary) and only of operations that
/// libtorch's meta device carries: the embedding is an indexing (not index_select) and attention is written out,
/// softmax(q kᵀ / √d, masked) v, instead of SDPA (whose kernels call `where`, which meta lacks). Its forward insists that
/// ids, positions and mask live on its own device, so a trainer that builds any of them elsewhere fails here by name;
/// everything after the forward (log-probs, losses, backward) is the trainers' own code.
/// </summary>
public sealed class MetaLM : nn.Module, ICausalLM
{
    readonly Parameter embed_tokens;
    readonly Linear q_proj, k_proj, v_proj, o_proj;
    readonly RmsNorm input_layernorm, post_attention_layernorm, norm;
    readonly SwiGluMlp mlp;
    readonly Rotary rotary;
    readonly ModelConfig config;

    public MetaLM(ModelConfig c, Device device, ScalarType dtype = ScalarType.Float32) : base(nameof(MetaLM))
    {
        config = c;
        embed_tokens = new Parameter(empty(c.VocabSize, c.HiddenSize, dtype: dtype, device: device));
        q_proj = new Linear(c.HiddenSize, c.HiddenSize, true, dtype, device);
        k_proj = new Linear(c.HiddenSize, c.HiddenSize, true, dtype, device);
        v_proj = new Linear(c.HiddenSize, c.HiddenSize, true, dtype, device);
        o_proj = new Linear(c.HiddenSize, c.HiddenSize, false, dtype, device);
        input_layernorm = new RmsNorm(c.HiddenSize, c.RmsNormEps, dtype, device);
        post_attention_layernorm = new RmsNorm(c.HiddenSize, c.RmsNormEps, dtype, device);
        norm = new RmsNorm(c.HiddenSize, c.RmsNormEps, dtype, device);
        mlp = new SwiGluMlp(c, dtype, device);
        rotary = new Rotary(c, device);
        RegisterComponents();
    }

    public nn.Module Module => this;
    public int VocabSize => config.VocabSize;
    public Device Device => embed_tokens.device;

    public Tensor Forward(Tensor inputIds, Tensor? positionIds = null, Tensor? attentionMask = null)
    {
        Require(inputIds, "input ids");
        if (positionIds is not null) Require(positionIds, "position ids");
        if (attentionMask is not null) Require(attentionMask, "attention mask");
        using var scope = NewDisposeScope();
        long b = inputIds.shape[0], t = inputIds.shape[1], heads = config.NumAttentionHeads, d = config.HeadDim;
        positionIds ??= arange(t, dtype: ScalarType.Int64, device: Device).unsqueeze(0).expand(b, t);
        var (cos, sin) = rotary.CosSin(positionIds, embed_tokens.dtype);
        var x = embed_tokens[inputIds];
        var h = input_layernorm.forward(x);
        Tensor Heads(Tensor y) => y.view(b, t, heads, d).transpose(1, 2);
        var q = Rotary.Apply(Heads(q_proj.forward(h)), cos, sin);
        var k = Rotary.Apply(Heads(k_proj.forward(h)), cos, sin);
        var v = Heads(v_proj.forward(h));
        var allowed = attentionMask ?? ones(t, t, dtype: ScalarType.Bool, device: Device).tril();
        var scores = q.matmul(k.transpose(-1, -2)).div(Math.Sqrt(d)).masked_fill(~allowed, double.NegativeInfinity);
        var attended = scores.softmax(-1).matmul(v).transpose(1, 2).reshape(b, t, heads * d);
        x = x + o_proj.forward(attended);
        x = x + mlp.forward(post_attention_layernorm.forward(x));
        return scope.MoveToOuter(nn.functional.linear(norm.forward(x), embed_tokens).to(ScalarType.Float32));
    }

    void Require(Tensor t, string what)
    {
        if (t.device.ToString() != Device.ToString())
            throw new InvalidOperationException($"{what} on {t.device}, the model is on {Device}");
    }

    public static ModelConfig Config(int vocab = 64, int hidden = 16, int heads = 2) => new()
    {
        ModelType = "qwen2", VocabSize = vocab, HiddenSize = hidden, IntermediateSize = 2 * hidden, NumHiddenLayers = 1,
        NumAttentionHeads = heads, NumKeyValueHeads = heads, HeadDim = hidden / heads, RmsNormEps = 1e-6, RopeTheta = 10000,
        TieWordEmbeddings = true, QkvBias = true, OutputBias = false,
    };
}
