using static TorchSharp.torch;

namespace StepDpo.Torch.Model;

#pragma warning disable IDE1006 // HF parameter names, see Layers.cs

/// <summary>
/// Grouped-query self-attention: H query heads share K = H/G key/value heads.
/// softmax(q kᵀ / √d + mask) v per head, with rotary embedding applied to q and k.
/// </summary>
public sealed class Attention : nn.Module
{
    public readonly Linear q_proj, k_proj, v_proj, o_proj;
    readonly int heads, kvHeads, headDim, layerIndex;

    public Attention(ModelConfig c, int layerIndex, ScalarType dtype, Device? device) : base(nameof(Attention))
    {
        heads = c.NumAttentionHeads; kvHeads = c.NumKeyValueHeads; headDim = c.HeadDim;
        this.layerIndex = layerIndex;
        q_proj = new Linear(c.HiddenSize, heads * headDim, c.QkvBias, dtype, device);
        k_proj = new Linear(c.HiddenSize, kvHeads * headDim, c.QkvBias, dtype, device);
        v_proj = new Linear(c.HiddenSize, kvHeads * headDim, c.QkvBias, dtype, device);
        o_proj = new Linear(heads * headDim, c.HiddenSize, c.OutputBias, dtype, device);
        RegisterComponents();
    }

    /// <param name="x">[B, T, hidden]</param>
    /// <param name="cos">[B, 1, T, headDim] from <see cref="Rotary.CosSin"/></param>
    /// <param name="mask">bool [B, 1, T, S] (true = may attend) over the S = cached + T keys, or null for causal
    /// attention without a cache.</param>
    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor? mask, KvCache? cache)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1];
        var q = Rotary.Apply(q_proj.forward(x).view(b, t, heads, headDim).transpose(1, 2), cos, sin);
        var k = Rotary.Apply(k_proj.forward(x).view(b, t, kvHeads, headDim).transpose(1, 2), cos, sin);
        var v = v_proj.forward(x).view(b, t, kvHeads, headDim).transpose(1, 2);
        if (cache is not null) (k, v) = cache.Append(layerIndex, k, v);
        var attended = mask is null ? CausalAttention(q, k, v) : MaskedAttention(q, k, v, mask);
        var merged = attended.transpose(1, 2).reshape(b, t, heads * headDim);
        return scope.MoveToOuter(o_proj.forward(merged));
    }

    /// <summary>No mask: repeat each key/value head for its G query heads and let SDPA apply the causal mask.</summary>
    Tensor CausalAttention(Tensor q, Tensor k, Tensor v) =>
        nn.functional.scaled_dot_product_attention(q, RepeatKv(k), RepeatKv(v), is_casual: true);

    /// <summary>
    /// With a mask (and with a cache): instead of copying keys/values G times, fold the G query heads of a group into
    /// the time axis, [B, H, T, d] → [B, K, G·T, d], so each key/value head is read once; the mask is repeated G times
    /// along the query axis to match. Query head h uses key/value head h / G, as in HF's repeat_kv.
    /// </summary>
    Tensor MaskedAttention(Tensor q, Tensor k, Tensor v, Tensor mask)
    {
        long b = q.shape[0], t = q.shape[2], s = k.shape[2];
        int groups = heads / kvHeads;
        var grouped = q.reshape(b, kvHeads, groups * t, headDim);
        var groupedMask = groups == 1 ? mask : mask.unsqueeze(2).expand(b, 1, groups, t, s).reshape(b, 1, groups * t, s);
        var o = nn.functional.scaled_dot_product_attention(grouped, k, v, groupedMask);
        return o.view(b, heads, t, headDim);
    }

    Tensor RepeatKv(Tensor kv)
    {
        int groups = heads / kvHeads;
        if (groups == 1) return kv;
        long b = kv.shape[0], s = kv.shape[2];
        return kv.unsqueeze(2).expand(b, kvHeads, groups, s, headDim).reshape(b, heads, s, headDim);
    }
}
