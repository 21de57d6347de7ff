using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace StepDpo.Text;

/// <summary>The BPE model: turns one pre-token (already in byte-level characters) into ids by repeatedly applying
/// the highest-priority merge, leftmost first on ties, exactly as Hugging Face's BPE::merge_word. Results are cached
/// per pre-token: natural text repeats words, so most pre-tokens never reach the merge loop.</summary>
public sealed class BpeModel
{
    const int CacheCapacity = 200_000;

    readonly Dictionary<string, int> vocab;
    readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> vocabBySpan;
    readonly Dictionary<long, (int Rank, int NewId)> merges; // key: left id << 32 | right id
    readonly int[] charIds; // id of each single character below U+0400 (byte-level alphabet), -1 when absent
    readonly bool ignoreMerges;
    readonly int? unkId;
    readonly bool fuseUnk;
    readonly ConcurrentDictionary<string, int[]> cache = new(StringComparer.Ordinal);
    readonly ConcurrentDictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> cacheBySpan;
    int cacheCount;

    public BpeModel(IReadOnlyDictionary<string, int> vocab, IReadOnlyList<(string Left, string Right)> merges,
        bool ignoreMerges = false, string? unkToken = null, bool fuseUnk = false, IReadOnlyList<(int Left, int Right, int Merged)>? mergeIds = null)
    {
        this.vocab = vocab is Dictionary<string, int> d && d.Comparer == StringComparer.Ordinal ? d : new Dictionary<string, int>(vocab, StringComparer.Ordinal);
        vocabBySpan = this.vocab.GetAlternateLookup<ReadOnlySpan<char>>();
        cacheBySpan = this.cache.GetAlternateLookup<ReadOnlySpan<char>>();
        this.merges = new Dictionary<long, (int, int)>(merges.Count, PairKeyComparer.Instance);
        if (mergeIds != null && mergeIds.Count != merges.Count) throw new ArgumentException("mergeIds must match merges", nameof(mergeIds));
        for (int rank = 0; rank < merges.Count; rank++)
        {
            var (left, right, merged) = mergeIds != null ? mergeIds[rank]
                : (this.vocab[merges[rank].Left], this.vocab[merges[rank].Right], this.vocab[merges[rank].Left + merges[rank].Right]);
            this.merges.TryAdd(Key(left, right), (rank, merged)); // a repeated rule keeps its first (highest) priority
        }
        charIds = new int[0x400];
        for (int c = 0; c < charIds.Length; c++) charIds[c] = this.vocab.TryGetValue(((char)c).ToString(), out int id) ? id : -1;
        this.ignoreMerges = ignoreMerges;
        unkId = unkToken != null ? this.vocab[unkToken] : null;
        this.fuseUnk = fuseUnk;
    }

    static long Key(int left, int right) => ((long)left << 32) | (uint)right;

    public IReadOnlyDictionary<string, int> Vocab => this.vocab;

    /// <summary>Appends the ids of one pre-token.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot from the first call: skip the unoptimised tier
    public void Encode(ReadOnlySpan<char> word, List<int> output)
    {
        if (word.IsEmpty) return;
        if (this.merges.Count == 0 && !this.ignoreMerges) { output.AddRange(Merge(word)); return; } // byte tokenizer: nothing to cache
        if (cacheBySpan.TryGetValue(word, out var cached)) { output.AddRange(cached); return; }
        var ids = this.ignoreMerges && vocabBySpan.TryGetValue(word, out int whole) ? [whole] : Merge(word);
        if (cacheCount < CacheCapacity && cacheBySpan.TryAdd(word, ids)) Interlocked.Increment(ref cacheCount);
        output.AddRange(ids);
    }

    int[] Merge(ReadOnlySpan<char> word)
    {
        Span<int> symbols = word.Length <= 256 ? stackalloc int[word.Length] : new int[word.Length];
        int count = InitialSymbols(word, symbols);
        // Short pre-tokens (nearly all) merge fastest by rescanning a few pair ranks; long ones need the queue.
        return count <= ScanLimit ? MergeByScan(symbols[..count]) : MergeWithQueue(symbols[..count]);
    }

    const int ScanLimit = 48;

    /// <summary>Runs one of the two merge strategies regardless of length, so tests can check they agree.</summary>
    internal int[] MergeWith(string word, bool queue)
    {
        var symbols = new int[word.Length];
        int count = InitialSymbols(word, symbols);
        return queue || count > ScanLimit ? MergeWithQueue(symbols.AsSpan(0, count)) : MergeByScan(symbols.AsSpan(0, count));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot from the first call: skip the unoptimised tier
    int InitialSymbols(ReadOnlySpan<char> word, Span<int> ids)
    {
        int count = 0;
        bool lastWasUnk = false;
        for (int i = 0; i < word.Length; i++)
        {
            char c = word[i];
            int id;
            if (char.IsHighSurrogate(c) && i + 1 < word.Length && char.IsLowSurrogate(word[i + 1]))
            {
                id = vocabBySpan.TryGetValue(word.Slice(i, 2), out int pair) ? pair : -1;
                i++;
            }
            else id = c < charIds.Length ? charIds[c] : vocabBySpan.TryGetValue(word.Slice(i, 1), out int single) ? single : -1;
            if (id < 0)
            {
                // Characters outside the vocabulary become unk (fused when asked) or are dropped, as in Hugging Face.
                if (unkId is not int unk || (this.fuseUnk && lastWasUnk)) continue;
                id = unk;
                lastWasUnk = true;
            }
            else lastWasUnk = false;
            ids[count++] = id;
        }
        return count;
    }

    (int Rank, int NewId) PairRank(int left, int right) =>
        this.merges.TryGetValue(Key(left, right), out var m) ? m : (int.MaxValue, -1);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot from the first call: skip the unoptimised tier
    int[] MergeByScan(Span<int> ids)
    {
        // ranks[i] / newIds[i] describe the pair (ids[i], ids[i + 1]).
        int count = ids.Length;
        Span<int> ranks = stackalloc int[ScanLimit];
        Span<int> newIds = stackalloc int[ScanLimit];
        for (int i = 0; i + 1 < count; i++) (ranks[i], newIds[i]) = PairRank(ids[i], ids[i + 1]);
        while (count > 1)
        {
            int best = -1, bestRank = int.MaxValue;
            for (int i = 0; i + 1 < count; i++)
                if (ranks[i] < bestRank) { bestRank = ranks[i]; best = i; } // strict: leftmost wins ties
            if (best < 0) break;
            ids[best] = newIds[best];
            for (int j = best + 1; j + 1 < count; j++) ids[j] = ids[j + 1];
            for (int j = best + 1; j + 2 < count; j++) { ranks[j] = ranks[j + 1]; newIds[j] = newIds[j + 1]; }
            count--;
            if (best > 0) (ranks[best - 1], newIds[best - 1]) = PairRank(ids[best - 1], ids[best]);
            if (best + 1 < count) (ranks[best], newIds[best]) = PairRank(ids[best], ids[best + 1]);
        }
        return ids[..count].ToArray();
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot from the first call: skip the unoptimised tier
    int[] MergeWithQueue(ReadOnlySpan<int> initial)
    {
        // Symbols form a doubly linked list; a merge absorbs the right neighbour. Queue entries are (rank, position),
        // so the lowest rank wins and ties go to the leftmost pair; entries made stale by earlier merges are skipped.
        int count = initial.Length;
        var ids = initial.ToArray();
        var prev = new int[count];
        var next = new int[count];
        var alive = new bool[count];
        for (int i = 0; i < count; i++) { prev[i] = i - 1; next[i] = i + 1 < count ? i + 1 : -1; alive[i] = true; }
        var queue = new PriorityQueue<int, long>();
        for (int i = 0; i + 1 < count; i++)
            if (this.merges.TryGetValue(Key(ids[i], ids[i + 1]), out var m)) queue.Enqueue(i, ((long)m.Rank << 32) | (uint)i);
        while (queue.TryDequeue(out int pos, out long priority))
        {
            int rank = (int)(priority >> 32);
            if (!alive[pos] || next[pos] < 0) continue;
            int right = next[pos];
            if (!this.merges.TryGetValue(Key(ids[pos], ids[right]), out var merge) || merge.Rank != rank) continue;
            ids[pos] = merge.NewId;
            alive[right] = false;
            next[pos] = next[right];
            if (next[pos] >= 0) prev[next[pos]] = pos;
            if (prev[pos] >= 0 && this.merges.TryGetValue(Key(ids[prev[pos]], ids[pos]), out var before))
                queue.Enqueue(prev[pos], ((long)before.Rank << 32) | (uint)prev[pos]);
            if (next[pos] >= 0 && this.merges.TryGetValue(Key(ids[pos], ids[next[pos]]), out var after))
                queue.Enqueue(pos, ((long)after.Rank << 32) | (uint)pos);
        }
        var result = new List<int>(count);
        for (int i = count > 0 ? 0 : -1; i >= 0; i = next[i]) result.Add(ids[i]);
        return result.ToArray();
    }

    /// <summary>long.GetHashCode is left ^ right for our keys, which collides heavily for nearby ids and made merge
    /// lookups crawl; a multiplicative mix spreads the pairs.</summary>
    sealed class PairKeyComparer : IEqualityComparer<long>
    {
        public static readonly PairKeyComparer Instance = new();
        public bool Equals(long x, long y) => x == y;
        public int GetHashCode(long key) => (int)((ulong)(key * -7046029254386353131L) >> 32);
    }
}
