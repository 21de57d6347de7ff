using StepDpo.Torch.Model;
using static TorchSharp.torch;

namespace StepDpo.Torch.Generation;

/// <summary>
/// The prefill of prompts admitted to the running batch together. Prompts that begin with the same tokens (the
/// rectification prompts of one problem share its question, a chat template's system prompt is shared by all) prefill
/// that prefix once: sorted, consecutive prompts that share at least <see cref="MinSharedPrefix"/> tokens form a group,
/// the groups' prefixes run in one forward, and every prompt's remaining tokens run in a second forward over a copy of
/// its group's cached prefix. Rows are left-padded; positions count real tokens only, so a prompt gets the positions
/// (and, up to float rounding, the keys and logits) it would get prefilled alone.
/// </summary>
static class PromptPrefill
{
    /// <summary>Shorter common prefixes are not worth a second forward.</summary>
    public const int MinSharedPrefix = 16;

    /// <summary>One row per prompt, in the order given: its keys and values in <see cref="Cache"/>, which slots of them
    /// are real (<see cref="Valid"/>, bool [prompts, Cache.Length]), the logits of its last token (float32 [prompts, V]),
    /// and the first real slot of each row.</summary>
    public sealed record Result(KvCache Cache, Tensor Valid, Tensor Logits, int[] FirstSlot) : IDisposable
    {
        public void Dispose() { Cache.Dispose(); Valid.Dispose(); Logits.Dispose(); }
    }

    public static Result Run(CausalLM model, IReadOnlyList<int[]> prompts, bool sharePrefixes)
    {
        var (group, prefixLength) = sharePrefixes ? Groups(prompts) : (Enumerable.Range(0, prompts.Count).ToArray(), new int[prompts.Count]);
        int groups = group.Max() + 1;
        var device = model.Device;
        using var scope = NewDisposeScope();

        // Each group's shared prefix (empty for a prompt alone in its group), left-padded to the longest.
        var prefixes = new int[groups][];
        for (int i = 0; i < prompts.Count; i++) prefixes[group[i]] = prompts[i][..prefixLength[i]];
        int prefixWidth = prefixes.Max(p => p.Length);
        var suffixes = prompts.Select((p, i) => p[prefixLength[i]..]).ToList();
        int suffixWidth = suffixes.Max(s => s.Length);

        var promptGroup = tensor(group.Select(g => (long)g).ToArray(), device: device);
        KvCache cache;
        Tensor cachedValid;
        if (prefixWidth > 0)
        {
            var (ids, valid) = DecodeInputs.LeftPad(prefixes, prefixWidth, device);
            using var prefixCache = new KvCache(model.Config, groups, prefixWidth + suffixWidth, model.DType, device);
            model.ForwardLast(ids, DecodeInputs.Positions(valid), DecodeInputs.PrefillMask(valid), prefixCache);
            cache = prefixCache.Select(promptGroup);
            cachedValid = valid[promptGroup];
        }
        else
        {
            cache = new KvCache(model.Config, prompts.Count, suffixWidth, model.DType, device);
            cachedValid = zeros(prompts.Count, 0, dtype: ScalarType.Bool, device: device);
        }
        try
        {
            var (suffixIds, suffixValid) = DecodeInputs.LeftPad(suffixes, suffixWidth, device);
            var offsets = tensor(prefixLength.Select(n => (long)n).ToArray(), device: device).unsqueeze(1);
            var positions = DecodeInputs.Positions(suffixValid) + offsets;
            var logits = model.ForwardLast(suffixIds, positions, DecodeInputs.PrefillMask(cachedValid, suffixValid), cache);
            var keyValid = cat([cachedValid, suffixValid], 1);
            var firstSlot = prompts.Select((p, i) => prefixLength[i] > 0 ? prefixWidth - prefixLength[i] : prefixWidth + suffixWidth - p.Length)
                .ToArray();
            return new Result(cache, keyValid.MoveToOuterDisposeScope(), logits.MoveToOuterDisposeScope(), firstSlot);
        }
        catch
        {
            cache.Dispose();
            throw;
        }
    }

    /// <summary>Sorted order, consecutive prompts sharing at least <see cref="MinSharedPrefix"/> tokens grouped; each
    /// prompt's group and the length of the group's common prefix (0 alone), which leaves every prompt at least one
    /// token of its own (its last token's logits come from the second forward).</summary>
    internal static (int[] Group, int[] PrefixLength) Groups(IReadOnlyList<int[]> prompts)
    {
        var order = Enumerable.Range(0, prompts.Count).Order(Comparer<int>.Create((a, b) => Compare(prompts[a], prompts[b]))).ToArray();
        var group = new int[prompts.Count];
        var prefix = new int[prompts.Count];
        int groups = 0;
        for (int start = 0; start < order.Length;)
        {
            int end = start + 1, common = prompts[order[start]].Length - 1;
            while (end < order.Length)
            {
                int next = Math.Min(Math.Min(common, Common(prompts[order[end - 1]], prompts[order[end]])), prompts[order[end]].Length - 1);
                if (next < MinSharedPrefix) break;
                common = next;
                end++;
            }
            for (int j = start; j < end; j++)
            {
                group[order[j]] = groups;
                prefix[order[j]] = end - start > 1 ? common : 0;
            }
            groups++;
            start = end;
        }
        return (group, prefix);
    }

    static int Common(int[] a, int[] b)
    {
        int n = 0;
        while (n < a.Length && n < b.Length && a[n] == b[n]) n++;
        return n;
    }

    /// <summary>Lexicographic order of token ids (a shorter prompt that is a prefix of a longer one comes first).</summary>
    internal static int Compare(int[] a, int[] b)
    {
        int n = Common(a, b);
        return n < a.Length && n < b.Length ? a[n].CompareTo(b[n]) : a.Length.CompareTo(b.Length);
    }
}
