using TorchSharp;
using static TorchSharp.torch;

namespace StepDpo.Torch.Model;

#pragma warning disable IDE1006 // HF parameter names, see Layers.cs

/// <summary>
/// Grouped-query self-attention: H query heads share K = H/G key/value heads.
/// softmax(q kᵀ / √d + mask) v per head, with rotary embedding applied to q and k.
/// On the CPU, up to <see cref="ExplicitUpToKeys"/> keys the product is written out (two matmuls and a softmax): there
/// libtorch's flash kernel, which SDPA picks whenever it can, costs 1.2-4x more (forward + backward in bf16, 128-256
/// tokens, tests/StepDpo.Bench `attention`); at 352-384 keys a Step-DPO step of qwen2/small took 1.3-1.4x less than
/// PyTorch's written-out attention with the limit at 512, 0.88-0.96x with SDPA (`peers`, 10:1). Above it (the score
/// matrices it keeps for backward grow with keys², which the memory plan does not count), and on GPUs, SDPA's kernels.
/// </summary>
public sealed class Attention : nn.Module
{
    public readonly Linear q_proj, k_proj, v_proj, o_proj;
    readonly FusedProjection qkv;
    readonly int heads, kvHeads, headDim, layerIndex;

    public Attention(ModelConfig c, int layerIndex, ScalarType dtype, Device? device) : base(nameof(Attention))
    {
        heads = c.NumAttentionHeads; kvHeads = c.NumKeyValueHeads; headDim = c.HeadDim;
        this.layerIndex = layerIndex;
        qkv = new FusedProjection(c.HiddenSize, [heads * headDim, kvHeads * headDim, kvHeads * headDim], c.QkvBias, dtype, device);
        (q_proj, k_proj, v_proj) = (qkv.Layers[0], qkv.Layers[1], qkv.Layers[2]);
        o_proj = new Linear(heads * headDim, c.HiddenSize, c.OutputBias, dtype, device);
        RegisterComponents();
    }

    /// <param name="x">[B, T, hidden]</param>
    /// <param name="cos">[B, 1, T, headDim] from <see cref="Rotary.CosSin"/></param>
    /// <param name="mask">bool [B, 1, T, S] (true = may attend) over the S = cached + T keys, or null for causal
    /// attention: query i sees the cached keys and the new ones up to itself (every row without padding). Or what
    /// <see cref="Prepare"/> made of it, once for all layers.</param>
    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor? mask, KvCache? cache)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1];
        Tensor q, k, v;
        if (qkv.Usable)
        {
            // One matmul for q, k and v, and one rotation for the q and k heads together.
            var heads3 = qkv.Forward(x).view(b, t, heads + 2 * kvHeads, headDim).transpose(1, 2);
            var rotated = Rotary.Apply(heads3.narrow(1, 0, heads + kvHeads), cos, sin);
            (q, k, v) = (rotated.narrow(1, 0, heads), rotated.narrow(1, heads, kvHeads), heads3.narrow(1, heads + kvHeads, kvHeads));
        }
        else
        {
            q = Rotary.Apply(q_proj.forward(x).view(b, t, heads, headDim).transpose(1, 2), cos, sin);
            k = Rotary.Apply(k_proj.forward(x).view(b, t, kvHeads, headDim).transpose(1, 2), cos, sin);
            v = v_proj.forward(x).view(b, t, kvHeads, headDim).transpose(1, 2);
        }
        if (cache is not null) (k, v) = cache.Append(layerIndex, k, v);
        long s = k.shape[2];
        var attended = Explicit(s, q.device) ? ExplicitAttention(q, k, v, mask?.dtype == ScalarType.Bool ? Bias(mask, t, s, heads / kvHeads, kvHeads, q.dtype, q.device) : mask)
            : mask is not null ? MaskedAttention(q, k, v, mask)
            : s == t ? CausalAttention(q, k, v)
            : MaskedAttention(q, k, v, ones(t, s, dtype: ScalarType.Bool, device: q.device).tril(s - t).expand(b, 1, t, s));
        var merged = attended.transpose(1, 2).reshape(b, t, heads * headDim);
        return scope.MoveToOuter(o_proj.forward(merged));
    }

    /// <summary>Longest key sequence attended with <see cref="ExplicitAttention"/> on the CPU.</summary>
    public const int ExplicitUpToKeys = 384;

    static bool Explicit(long keys, Device device) => keys <= ExplicitUpToKeys && device.type == DeviceType.CPU;

    /// <summary>
    /// The mask as the attention of every layer reads it, made once per forward: for the written-out product an additive
    /// bias in the model dtype, 0 where a query may attend and -inf where not, with the query heads of a group folded in
    /// ([B·K, G·T, S], or [G·T, S] for causal rows; null when a single new query sees every key); for SDPA the bool mask
    /// itself. <paramref name="mask"/>: bool [B, 1, T, S] or null (causal); S = cached + T keys.
    /// </summary>
    public static Tensor? Prepare(Tensor? mask, long t, long s, ModelConfig c, ScalarType dtype, Device device) =>
        Explicit(s, device) ? Bias(mask, t, s, c.KvGroups, c.NumKeyValueHeads, dtype, device) : mask;

    static Tensor? Bias(Tensor? mask, long t, long s, int groups, int kvHeads, ScalarType dtype, Device device)
    {
        if (mask is null && t == 1) return null;
        using var scope = NewDisposeScope();
        var allowed = mask is null
            ? ones(t, s, dtype: ScalarType.Bool, device: device).tril(s - t).repeat(groups, 1)
            : mask.unsqueeze(2).expand(mask.shape[0], kvHeads, groups, t, s).reshape(mask.shape[0] * kvHeads, groups * t, s);
        var bias = zeros(allowed.shape, dtype: dtype, device: device).masked_fill_(allowed.logical_not(), double.NegativeInfinity);
        return scope.MoveToOuter(bias);
    }

    /// <summary>
    /// softmax(q kᵀ / √d + bias) v (HF's eager attention) as batched matmuls, with the query heads of
    /// a group folded into the time axis as in <see cref="MaskedAttention"/> (each key/value head read once).
    /// <paramref name="bias"/> comes from <see cref="Prepare"/>: [B·K, G·T, S], [G·T, S], or null (nothing masked).
    /// </summary>
    Tensor ExplicitAttention(Tensor q, Tensor k, Tensor v, Tensor? bias)
    {
        using var scope = NewDisposeScope();
        long b = q.shape[0], t = q.shape[2], s = k.shape[2];
        int groups = heads / kvHeads;
        var grouped = q.reshape(b * kvHeads, groups * t, headDim);
        var keysT = k.reshape(b * kvHeads, s, headDim).transpose(1, 2);
        float scale = (float)(1.0 / Math.Sqrt(headDim));
        // (Not baddbmm: TorchSharp 0.107 passes its arguments to libtorch in the wrong order.)
        var scores = bmm(grouped, keysT).mul_(scale);
        if (bias is not null) scores.add_(bias);
        var o = bmm(scores.softmax(-1), v.reshape(b * kvHeads, s, headDim));
        return scope.MoveToOuter(o.view(b, heads, t, headDim));
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

    protected override void Dispose(bool disposing)
    {
        if (disposing) qkv.Dispose();
        base.Dispose(disposing);
    }

    Tensor RepeatKv(Tensor kv)
    {
        int groups = heads / kvHeads;
        if (groups == 1) return kv;
        long b = kv.shape[0], s = kv.shape[2];
        return kv.unsqueeze(2).expand(b, kvHeads, groups, s, headDim).reshape(b, heads, s, headDim);
    }
}
