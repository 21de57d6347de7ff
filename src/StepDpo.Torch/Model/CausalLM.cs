using static TorchSharp.torch;

namespace StepDpo.Torch.Model;

#pragma warning disable IDE1006 // HF parameter names, see Layers.cs

/// <summary>The "model." part of the checkpoint: embeddings, decoder layers, final norm.</summary>
public sealed class DecoderStack : nn.Module
{
    public readonly Embedding embed_tokens;
    public readonly nn.Module layers; // ModuleList, named "layers" so keys read model.layers.{i}.…
    public readonly RmsNorm norm;
    public IReadOnlyList<DecoderLayer> Layers { get; }

    public DecoderStack(ModelConfig c, ScalarType dtype, Device? device) : base(nameof(DecoderStack))
    {
        embed_tokens = new Embedding(c.VocabSize, c.HiddenSize, dtype, device);
        var list = Enumerable.Range(0, c.NumHiddenLayers).Select(i => new DecoderLayer(c, i, dtype, device)).ToArray();
        Layers = list;
        layers = nn.ModuleList(list);
        norm = new RmsNorm(c.HiddenSize, c.RmsNormEps, dtype, device);
        RegisterComponents();
    }
}

/// <summary>
/// Decoder-only language model for the qwen2 and llama families, driven by a Hugging Face config.json:
/// logits = LMHead(RMSNorm(Layer_N(… Layer_1(Embed(ids))))), with the LM head tied to the embedding when
/// tie_word_embeddings is set. Parameter names equal the HF safetensors keys.
/// </summary>
public sealed class CausalLM : nn.Module, ICausalLM
{
    public readonly DecoderStack model;
    public readonly Linear? lm_head;
    readonly Rotary rotary;

    public ModelConfig Config { get; }
    public nn.Module Module => this;
    public int VocabSize => Config.VocabSize;
    /// <summary>dtype of the weights (float32 or bfloat16); logits are always returned as float32.</summary>
    public ScalarType DType => model.norm.weight.dtype;
    public Device Device => model.norm.weight.device;

    /// <summary>Builds the module with uninitialised (not yet committed) weights of <paramref name="dtype"/> on
    /// <paramref name="device"/> (null: the CPU): load a checkpoint or run <see cref="Checkpoints.RandomInit"/> next.</summary>
    public CausalLM(ModelConfig config, ScalarType dtype = ScalarType.Float32, Device? device = null) : base(nameof(CausalLM))
    {
        if (dtype is not (ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16))
            throw new ArgumentException($"model dtype {dtype} is not supported (float32, bfloat16, float16)");
        Config = config;
        model = new DecoderStack(config, dtype, device);
        if (!config.TieWordEmbeddings) lm_head = new Linear(config.HiddenSize, config.VocabSize, false, dtype, device);
        rotary = new Rotary(config, device);
        RegisterComponents();
    }

    public Tensor Forward(Tensor inputIds, Tensor? positionIds = null, Tensor? attentionMask = null)
    {
        using var withSelf = WithSelf(attentionMask, inputIds.shape[1]);
        return Forward(inputIds, positionIds, withSelf, null);
    }

    /// <summary>The LM head on the hidden states of <paramref name="rows"/> only (see <see cref="ICausalLM.ForwardRows"/>).</summary>
    public Tensor ForwardRows(Tensor inputIds, Tensor? positionIds, Tensor? attentionMask, Tensor rows)
    {
        using var scope = NewDisposeScope();
        var hidden = HiddenStates(inputIds, positionIds, WithSelf(attentionMask, inputIds.shape[1]), null);
        return scope.MoveToOuter(Logits(hidden.reshape(-1, hidden.shape[^1])[rows]));
    }

    /// <summary>A query may always see itself: rows that are pure padding would otherwise be fully masked, and softmax
    /// turns those into NaN, which then leaks into real rows through 0·NaN in the next layer. Null stays null (causal).</summary>
    internal static Tensor? WithSelf(Tensor? attentionMask, long t)
    {
        if (attentionMask is null) return null;
        using var self = eye(t, dtype: ScalarType.Bool, device: attentionMask.device);
        return attentionMask | self;
    }

    /// <summary>
    /// Forward over new tokens <paramref name="inputIds"/> [B, T], continuing <paramref name="cache"/> when given.
    /// With a cache, <paramref name="attentionMask"/> is bool [B, 1, T, cache.Length + T], or null when no row has
    /// padding (every cached key visible, causal among the new tokens); positions default to cache.Length + 0..T-1.
    /// </summary>
    public Tensor Forward(Tensor inputIds, Tensor? positionIds, Tensor? attentionMask, KvCache? cache)
    {
        using var scope = NewDisposeScope();
        return scope.MoveToOuter(Logits(HiddenStates(inputIds, positionIds, attentionMask, cache)));
    }

    /// <summary>Logits of the last position only, [B, V] float32: what decoding needs, without the [B, T, V] tensor of
    /// a long prefill. Rows must end with a real token (left padding).</summary>
    public Tensor ForwardLast(Tensor inputIds, Tensor positionIds, Tensor? attentionMask, KvCache cache)
    {
        using var scope = NewDisposeScope();
        var hidden = HiddenStates(inputIds, positionIds, attentionMask, cache);
        return scope.MoveToOuter(Logits(hidden.select(1, -1)));
    }

    /// <summary>Final-norm hidden states [B, T, hidden] in the model dtype (what the LM head reads). Same arguments
    /// as <see cref="Forward(Tensor, Tensor?, Tensor?, KvCache?)"/>; the caller adds the self-attention diagonal to a
    /// custom mask if it has padding rows.</summary>
    public Tensor HiddenStates(Tensor inputIds, Tensor? positionIds, Tensor? attentionMask, KvCache? cache)
    {
        using var scope = NewDisposeScope();
        long b = inputIds.shape[0], t = inputIds.shape[1];
        int past = cache?.Length ?? 0;
        positionIds ??= arange(past, past + t, dtype: ScalarType.Int64, device: inputIds.device).unsqueeze(0).expand(b, t);
        var (cos, sin) = rotary.CosSin(positionIds, DType);
        var mask = Attention.Prepare(attentionMask, t, past + t, Config, DType, inputIds.device);
        var hidden = model.embed_tokens.forward(inputIds);
        foreach (var layer in model.Layers)
            hidden = layer.Forward(hidden, cos, sin, mask, cache);
        cache?.Advance((int)t);
        return scope.MoveToOuter(model.norm.forward(hidden));
    }

    /// <summary>LM head: hidden [..., hidden] → logits [..., V] as float32 (head tied to the embedding or not).</summary>
    public Tensor Logits(Tensor hidden)
    {
        using var logits = lm_head is null ? nn.functional.linear(hidden, model.embed_tokens.weight) : lm_head.forward(hidden);
        return logits.to(ScalarType.Float32);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) rotary.Dispose();
        base.Dispose(disposing);
    }
}
