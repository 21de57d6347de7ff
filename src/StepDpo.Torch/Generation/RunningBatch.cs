using StepDpo.Torch.Model;
using static TorchSharp.torch;

namespace StepDpo.Torch.Generation;

/// <summary>
/// The sequences decoding together, one per row of a KV cache. Rows share the cache's time axis: each row's real keys
/// end at the cache length and start where its prompt started (a bool [rows, length] validity marks them; positions are
/// counted per sequence, so a row's place in the cache never changes its numbers). A row that finishes stays until
/// <see cref="Rebuild"/> drops it, which is also when newly prefilled prompts join: one copy of the cache for both.
/// </summary>
sealed class RunningBatch(CausalLM model, int maxNewTokens) : IDisposable
{
    KvCache? cache;
    Tensor? keyValid; // null: every slot of every row is real (no padding anywhere), so no mask is needed
    List<Sequence> rows = [];
    int[] firstSlot = []; // the first cache slot each row still needs

    public IReadOnlyList<Sequence> Rows => rows;
    public int Finished => rows.Count(r => r.Finish is not null);
    public int Running => rows.Count - Finished;

    /// <summary>Keeps the unfinished rows (without the leading slots none of them needs) and appends, in order, the
    /// unfinished sequences of <paramref name="admitted"/>: sequence j of <paramref name="fresh"/> starts from the
    /// prefill row <paramref name="prefillRow"/>[j] (samples of one prompt share it).</summary>
    public void Rebuild(PromptPrefill.Result? admitted, IReadOnlyList<Sequence> fresh, IReadOnlyList<int> prefillRow)
    {
        var keep = Enumerable.Range(0, rows.Count).Where(r => rows[r].Finish is null).ToList();
        var join = Enumerable.Range(0, fresh.Count).Where(j => fresh[j].Finish is null).ToList();
        var device = model.Device;
        int from = keep.Count == 0 ? 0 : keep.Min(r => firstSlot[r]);
        int kept = keep.Count == 0 ? 0 : cache!.Length - from;
        int incoming = join.Count == 0 ? 0 : admitted!.Cache.Length;
        int length = Math.Max(kept, incoming);

        var parts = new List<(KvCache Cache, Tensor Rows, int From)>();
        var validParts = new List<(Tensor Valid, Tensor Rows, int From)>(); // kept rows first, then the admitted ones
        var slots = new List<int>();
        var next = new List<Sequence>();
        using var scope = NewDisposeScope();
        if (keep.Count > 0)
        {
            var picked = tensor(keep.Select(r => (long)r).ToArray(), device: device);
            parts.Add((cache!, picked, from));
            if (keyValid is not null) validParts.Add((keyValid, picked, from));
            slots.AddRange(keep.Select(r => firstSlot[r] - from + length - kept));
            next.AddRange(keep.Select(r => rows[r]));
        }
        if (join.Count > 0)
        {
            var picked = tensor(join.Select(j => (long)prefillRow[j]).ToArray(), device: device);
            parts.Add((admitted!.Cache, picked, 0));
            validParts.Add((admitted.Valid, picked, 0));
            slots.AddRange(join.Select(j => admitted.FirstSlot[prefillRow[j]] + length - incoming));
            next.AddRange(join.Select(j => fresh[j]));
        }
        // Every row gains at most maxNewTokens slots before the next rebuild (each has sampled a token already).
        var merged = parts.Count == 0 ? null : KvCache.Merge(parts, length, length + maxNewTokens);
        Tensor? valid = null;
        if (parts.Count > 0)
        {
            valid = zeros(next.Count, length, dtype: ScalarType.Bool, device: device);
            // Kept rows without a validity tensor had every slot real.
            if (keyValid is null && keep.Count > 0) valid.narrow(0, 0, keep.Count).narrow(1, length - kept, kept).fill_(true);
            long at = keyValid is null ? keep.Count : 0;
            foreach (var (source, picked, start) in validParts)
            {
                int width = (int)source.shape[1] - start;
                long n = picked.shape[0];
                if (width > 0) valid.narrow(0, at, n).narrow(1, length - width, width).copy_(source.narrow(1, start, width)[picked]);
                at += n;
            }
            valid = valid.all().item<bool>() ? null : valid.MoveToOuterDisposeScope();
        }
        cache?.Dispose();
        keyValid?.Dispose();
        (cache, keyValid, rows, firstSlot) = (merged, valid, next, slots.ToArray());
    }

    /// <summary>Forwards every row's last token (a finished row repeats its own; its logits are not used) and returns
    /// the next-token logits [rows, V].</summary>
    public Tensor Step()
    {
        using var scope = NewDisposeScope();
        var device = model.Device;
        var ids = tensor(rows.Select(r => (long)r.Tokens[^1]).ToArray(), device: device).unsqueeze(1);
        var positions = tensor(rows.Select(r => (long)r.LastPosition).ToArray(), device: device).unsqueeze(1);
        if (keyValid is null) // no padding in any row (one prompt, prompts of one length): every cached key is visible
            return model.ForwardLast(ids, positions, null, cache!).MoveToOuterDisposeScope();
        var extended = DecodeInputs.Extend(keyValid);
        var logits = model.ForwardLast(ids, positions, DecodeInputs.StepMask(extended), cache!);
        keyValid.Dispose();
        keyValid = extended.MoveToOuterDisposeScope();
        return logits.MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        cache?.Dispose();
        keyValid?.Dispose();
    }
}
