using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using StepDpo.Core;
using static TorchSharp.torch;

namespace StepDpo.Torch.Training;

/// <summary>Reference-model log-probs of every pair's completions (sums over tokens) and the completion lengths, in pair
/// order, with the cache key they were computed under.</summary>
public sealed class ReferenceLogps(string key, double[] chosen, double[] rejected, int[] chosenTokens, int[] rejectedTokens)
{
    public string Key { get; } = key;
    public double[] Chosen { get; } = chosen;
    public double[] Rejected { get; } = rejected;
    public int[] ChosenTokens { get; } = chosenTokens;
    public int[] RejectedTokens { get; } = rejectedTokens;
    public int Count => Chosen.Length;

    sealed record Header([property: JsonPropertyName("key")] string Key, [property: JsonPropertyName("count")] int Count);
    sealed record Row(
        [property: JsonPropertyName("chosen")] double Chosen, [property: JsonPropertyName("rejected")] double Rejected,
        [property: JsonPropertyName("chosen_tokens")] int ChosenTokens, [property: JsonPropertyName("rejected_tokens")] int RejectedTokens);

    /// <summary>reference_logps.jsonl: a header line {key, count}, then one line per pair. Written to a temporary file
    /// of this process and renamed, so an interrupted write is never mistaken for a cache hit and two runs that share
    /// the cache never write into one file.</summary>
    public void Save(string path) => Core.Artifacts.AtomicFile.Write(path, stream =>
    {
        using var w = new StreamWriter(stream, leaveOpen: true);
        w.WriteLine(JsonSerializer.Serialize(new Header(Key, Count)));
        for (int i = 0; i < Count; i++)
            w.WriteLine(JsonSerializer.Serialize(new Row(Chosen[i], Rejected[i], ChosenTokens[i], RejectedTokens[i])));
    });

    public static ReferenceLogps Load(string path)
    {
        var lines = File.ReadAllLines(path);
        Header header;
        try { header = JsonSerializer.Deserialize<Header>(lines.FirstOrDefault() ?? "") ?? throw new JsonException("empty"); }
        catch (JsonException e) { throw new StepDpoException($"{path}: line 1: not a reference log-prob header ({e.Message})", e); }
        if (lines.Length - 1 != header.Count)
            throw new StepDpoException($"{path}: key 'count' says {header.Count} pairs, the file has {lines.Length - 1}");
        var rows = new Row[header.Count];
        for (int i = 0; i < rows.Length; i++)
        {
            try { rows[i] = JsonSerializer.Deserialize<Row>(lines[i + 1]) ?? throw new JsonException("null"); }
            catch (JsonException e) { throw new StepDpoException($"{path}: line {i + 2}: {e.Message}", e); }
        }
        return new ReferenceLogps(header.Key, rows.Select(r => r.Chosen).ToArray(), rows.Select(r => r.Rejected).ToArray(),
            rows.Select(r => r.ChosenTokens).ToArray(), rows.Select(r => r.RejectedTokens).ToArray());
    }
}

/// <summary>
/// Reference log-probs computed once with the start model, before training, instead of a frozen model copy forwarded
/// every step. The cache key covers the token ids of every pair, the reference model's identity and the tokenisation
/// settings, so a changed pair, model or max_length recomputes and anything else is a cache hit.
/// </summary>
public static class ReferenceLogProbs
{
    public const string FileName = "reference_logps.jsonl";

    public static string CacheKey(IReadOnlyList<TokenizedPair> pairs, string referenceModelId, string tokenizationKey)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(Encoding.UTF8.GetBytes($"ref={referenceModelId}\ntok={tokenizationKey}\nn={pairs.Count}\n"));
        foreach (var p in pairs)
            foreach (var part in new[] { p.Prompt, p.Chosen, p.Rejected })
            {
                sha.AppendData(BitConverter.GetBytes(part.Length));
                sha.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(part.AsSpan()));
            }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary>Forwards every pair through <paramref name="reference"/> (no gradients, eval mode, shared-prefix rows,
    /// length-sorted micro-batches) and returns the summed completion log-probs.</summary>
    public static ReferenceLogps Compute(ICausalLM reference, IReadOnlyList<TokenizedPair> pairs, string key,
        int microBatchSize = 4, Action<int, int>? progress = null, CancellationToken ct = default)
    {
        var chosen = new double[pairs.Count];
        var rejected = new double[pairs.Count];
        var chosenTokens = new int[pairs.Count];
        var rejectedTokens = new int[pairs.Count];
        var order = Enumerable.Range(0, pairs.Count).OrderBy(i => pairs[i].SharedLength).ToArray();
        bool wasTraining = reference.Module.training;
        reference.Module.eval();
        try
        {
            using var _ = no_grad();
            for (int start = 0; start < order.Length; start += microBatchSize)
            {
                ct.ThrowIfCancellationRequested();
                var idx = order.Skip(start).Take(microBatchSize).ToArray();
                using var scope = NewDisposeScope();
                using var batch = SharedPrefixBatch.Build(idx.Select(i => pairs[i]).ToList(), device: reference.Device);
                using var lp = SharedPrefixBatch.Forward(reference, batch);
                // Kept on the host (a few numbers per pair); the trainer puts them back on its device per micro-batch.
                var c = lp.Chosen.cpu().data<float>().ToArray();
                var r = lp.Rejected.cpu().data<float>().ToArray();
                for (int j = 0; j < idx.Length; j++)
                {
                    chosen[idx[j]] = c[j]; rejected[idx[j]] = r[j];
                    chosenTokens[idx[j]] = lp.ChosenTokens[j]; rejectedTokens[idx[j]] = lp.RejectedTokens[j];
                }
                progress?.Invoke(Math.Min(start + microBatchSize, order.Length), order.Length);
            }
        }
        finally { reference.Module.train(wasTraining); }
        return new ReferenceLogps(key, chosen, rejected, chosenTokens, rejectedTokens);
    }

    /// <summary>Loads <paramref name="path"/> when its key matches, otherwise computes with the model that
    /// <paramref name="loadReference"/> returns (loaded only on a miss; disposed afterwards when
    /// <paramref name="disposeReference"/>, e.g. not when it is the policy about to be trained) and writes the file.</summary>
    public static ReferenceLogps ComputeOrLoad(Func<ICausalLM> loadReference, IReadOnlyList<TokenizedPair> pairs, string path,
        string referenceModelId, string tokenizationKey, int microBatchSize = 4, Action<int, int>? progress = null,
        bool disposeReference = true, CancellationToken ct = default)
    {
        string key = CacheKey(pairs, referenceModelId, tokenizationKey);
        if (File.Exists(path))
        {
            var cached = ReferenceLogps.Load(path);
            if (cached.Key == key) return cached;
        }
        var model = loadReference();
        try
        {
            var computed = Compute(model, pairs, key, microBatchSize, progress, ct);
            computed.Save(path);
            return computed;
        }
        finally { if (disposeReference) model.Module.Dispose(); }
    }
}
