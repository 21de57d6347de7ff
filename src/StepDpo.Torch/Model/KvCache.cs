using static TorchSharp.torch;

namespace StepDpo.Torch.Model;

/// <summary>
/// Keys and values of every layer for a batch of sequences, preallocated to a capacity so that each decode step writes
/// one slot instead of concatenating. All rows share one length: prompts of different lengths are left-padded, and the
/// padding is hidden by the attention mask, not by the cache.
/// </summary>
public sealed class KvCache : IDisposable
{
    readonly Tensor[] keys, values; // per layer [B, kvHeads, capacity, headDim]

    public int Length { get; private set; }
    public int Capacity { get; }
    public long BatchSize => keys[0].shape[0];

    public KvCache(ModelConfig c, long batch, int capacity, ScalarType dtype, Device device)
    {
        Capacity = capacity;
        keys = new Tensor[c.NumHiddenLayers];
        values = new Tensor[c.NumHiddenLayers];
        for (int i = 0; i < keys.Length; i++)
        {
            keys[i] = zeros(batch, c.NumKeyValueHeads, capacity, c.HeadDim, dtype: dtype, device: device).DetachFromDisposeScope();
            values[i] = zeros(batch, c.NumKeyValueHeads, capacity, c.HeadDim, dtype: dtype, device: device).DetachFromDisposeScope();
        }
    }

    KvCache(Tensor[] keys, Tensor[] values, int length, int capacity)
    {
        this.keys = keys; this.values = values; Length = length; Capacity = capacity;
    }

    /// <summary>Writes this step's keys/values [B, kvHeads, T, headDim] of <paramref name="layer"/> after the cached
    /// ones and returns views of all of them [B, kvHeads, Length + T, headDim].</summary>
    public (Tensor Keys, Tensor Values) Append(int layer, Tensor k, Tensor v)
    {
        long t = k.shape[2];
        if (Length + t > Capacity)
            throw new InvalidOperationException($"KV cache full: {Length} + {t} > capacity {Capacity}");
        using (var kSlot = keys[layer].narrow(2, Length, t)) kSlot.copy_(k);
        using (var vSlot = values[layer].narrow(2, Length, t)) vSlot.copy_(v);
        return (keys[layer].narrow(2, 0, Length + t), values[layer].narrow(2, 0, Length + t));
    }

    /// <summary>Called by the model once every layer has appended <paramref name="t"/> positions.</summary>
    public void Advance(int t) => Length += t;

    /// <summary>A cache whose rows are rows <paramref name="rows"/> of this one (repeat a prompt's prefill for n
    /// samples, or drop finished sequences). This cache is left unchanged. (Indexing rather than index_select: the same
    /// copy, and libtorch's meta device carries it, so the placement test runs it.)</summary>
    public KvCache Select(Tensor rows)
    {
        var k = keys.Select(x => x[rows].DetachFromDisposeScope()).ToArray();
        var v = values.Select(x => x[rows].DetachFromDisposeScope()).ToArray();
        return new KvCache(k, v, Length, Capacity);
    }

    /// <summary>
    /// A cache of <paramref name="capacity"/> slots holding, one after the other, rows of other caches: of each part the
    /// rows <paramref name="parts"/>.Rows (indices into it, repeats allowed) and its slots [From, Length), placed so that
    /// they end at <paramref name="length"/>, the new cache's length; the slots before them are zero (the caller's mask
    /// hides them). Continuous batching merges the running sequences (without the leading slots no row needs any more)
    /// and newly prefilled ones (each prompt's row repeated for its samples) this way, in one copy.
    /// </summary>
    public static KvCache Merge(IReadOnlyList<(KvCache Cache, Tensor Rows, int From)> parts, int length, int capacity)
    {
        foreach (var p in parts)
            if (p.Cache.Length - p.From > length || p.From < 0)
                throw new ArgumentException($"a part of {p.Cache.Length - p.From} slots does not fit a merged length of {length}");
        if (length > capacity) throw new ArgumentException($"merged length {length} exceeds capacity {capacity}");
        long rows = parts.Sum(p => p.Rows.shape[0]);
        int layers = parts[0].Cache.keys.Length;
        var k = new Tensor[layers];
        var v = new Tensor[layers];
        for (int layer = 0; layer < layers; layer++)
        {
            k[layer] = MergeLayer(parts, layer, p => p.keys, rows, length, capacity);
            v[layer] = MergeLayer(parts, layer, p => p.values, rows, length, capacity);
        }
        return new KvCache(k, v, length, capacity);
    }

    static Tensor MergeLayer(IReadOnlyList<(KvCache Cache, Tensor Rows, int From)> parts, int layer,
        Func<KvCache, Tensor[]> side, long rows, int length, int capacity)
    {
        using var scope = NewDisposeScope();
        var like = side(parts[0].Cache)[layer];
        var merged = zeros(rows, like.shape[1], capacity, like.shape[3], dtype: like.dtype, device: like.device);
        long at = 0;
        foreach (var (cache, picked, from) in parts)
        {
            int kept = cache.Length - from;
            long n = picked.shape[0];
            if (kept > 0) merged.narrow(0, at, n).narrow(2, length - kept, kept).copy_(side(cache)[layer].narrow(2, from, kept)[picked]);
            at += n;
        }
        return merged.DetachFromDisposeScope();
    }

    public long Bytes => keys.Sum(k => k.NumberOfElements * k.ElementSize) * 2;

    public void Dispose()
    {
        foreach (var t in keys) t.Dispose();
        foreach (var t in values) t.Dispose();
    }
}
