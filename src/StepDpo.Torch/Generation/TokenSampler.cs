
namespace StepDpo.Torch.Generation;

/// <summary>Picks the next token from one row of float32 logits, on the CPU with its own generator, so the choice
/// depends only on the logits and the sequence's seed (not on libtorch threads or batch composition).</summary>
public sealed class TokenSampler(SamplingOptions options)
{
    readonly List<int> candidates = new();
    double[] weights = [], keys = [];
    int[] ids = [];

    /// <summary>The chosen token and its log-probability under the unmodified distribution softmax(logits).</summary>
    public (int Token, float LogProb) Sample(ReadOnlySpan<float> logits, SplitMix64 rng)
    {
        double max = logits[0], sum = 0;
        foreach (float l in logits) max = Math.Max(max, l);
        foreach (float l in logits) sum += Math.Exp(l - max);
        return Sample(logits, rng, max + Math.Log(sum));
    }

    /// <summary>As <see cref="Sample(ReadOnlySpan{float}, SplitMix64)"/> with log Σ exp(logits) already computed
    /// (the engine does it for the whole batch in one torch call).</summary>
    public (int Token, float LogProb) Sample(ReadOnlySpan<float> logits, SplitMix64 rng, double logNormaliser)
    {
        int argmax = 0;
        for (int i = 1; i < logits.Length; i++) if (logits[i] > logits[argmax]) argmax = i;
        int token = options.Temperature == 0 ? argmax : SampleFiltered(logits, logits[argmax], rng);
        return (token, (float)(logits[token] - logNormaliser));
    }

    /// <summary>Weights w_i = exp((l_i - max) / T) ∈ (0, 1]; top-k keeps the k largest; top-p keeps the largest whose
    /// mass before them is below p of the (top-k) total; then one draw proportional to the kept weights.</summary>
    int SampleFiltered(ReadOnlySpan<float> logits, double max, SplitMix64 rng)
    {
        double invT = 1.0 / options.Temperature;
        if (weights.Length != logits.Length) weights = new double[logits.Length];
        double total = 0;
        for (int i = 0; i < logits.Length; i++) total += weights[i] = Math.Exp((logits[i] - max) * invT);

        bool topK = options.TopK > 0 && options.TopK < logits.Length, topP = options.TopP < 1;
        if (!topK && !topP) return Draw(weights, total, rng);

        // Candidates in descending weight. Only tokens above a threshold need sorting: once the ones above it
        // hold enough mass (>= k tokens, >= p of the total), no token below it can be kept. Lower it until they do.
        double threshold = 1e-4;
        while (true)
        {
            candidates.Clear();
            double mass = 0;
            for (int i = 0; i < weights.Length; i++)
                if (weights[i] >= threshold) { candidates.Add(i); mass += weights[i]; }
            bool enough = threshold == 0 || (topK ? candidates.Count >= options.TopK : mass >= options.TopP * total);
            if (enough) break;
            threshold = threshold < 1e-30 ? 0 : threshold * 1e-4;
        }
        int n = candidates.Count;
        if (keys.Length < n) { keys = new double[n]; ids = new int[n]; }
        for (int j = 0; j < n; j++) { ids[j] = candidates[j]; keys[j] = -weights[candidates[j]]; }
        // Ascending -weight = descending weight; ids were added in increasing order and the sort key ties are
        // broken below by id, so the order never depends on the sort algorithm.
        Array.Sort(keys, ids, 0, n);
        for (int start = 0; start < n;)
        {
            int end = start + 1;
            while (end < n && keys[end] == keys[start]) end++;
            if (end - start > 1) Array.Sort(ids, start, end - start);
            start = end;
        }
        int kept = topK ? Math.Min(options.TopK, n) : n;
        if (topP)
        {
            double keptTotal = 0;
            if (topK) for (int j = 0; j < kept; j++) keptTotal += weights[ids[j]];
            else keptTotal = total;
            double before = 0;
            int count = 0;
            while (count < kept && (count == 0 || before < options.TopP * keptTotal)) before += weights[ids[count++]];
            kept = count;
        }
        double keptMass = 0;
        for (int j = 0; j < kept; j++) keptMass += weights[ids[j]];
        double u = rng.NextDouble() * keptMass;
        for (int j = 0; j < kept; j++)
        {
            u -= weights[ids[j]];
            if (u < 0) return ids[j];
        }
        return ids[kept - 1];
    }

    static int Draw(double[] weights, double total, SplitMix64 rng)
    {
        double u = rng.NextDouble() * total;
        for (int i = 0; i < weights.Length; i++)
        {
            u -= weights[i];
            if (u < 0) return i;
        }
        return weights.Length - 1;
    }
}
