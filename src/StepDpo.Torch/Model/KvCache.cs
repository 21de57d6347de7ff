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

    public long Bytes => keys.Sum(k => k.NumberOfElements * k.ElementSize) * 2;

    public void Dispose()
    {
        foreach (var t in keys) t.Dispose();
        foreach (var t in values) t.Dispose();
    }
}
