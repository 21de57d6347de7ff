using StepDpo.Torch.Model;
using static TorchSharp.torch;

namespace StepDpo.Torch.Generation;

/// <summary>log p(completion | prompt): the sum and the per-token log-probabilities.</summary>
public sealed record ScoredCompletion(double LogProb, float[] TokenLogprobs);

/// <summary>
/// Scores completions given prompts, token ids concatenated as [prompt, completion] (what DPO trainers do).
/// Rows are right-padded, so plain causal attention never lets a real token see padding; only the completion
/// positions go through the LM head, which keeps the [tokens, vocab] tensor small for large vocabularies.
/// </summary>
public static class Scorer
{
    public static IReadOnlyList<ScoredCompletion> Score(CausalLM model, IReadOnlyList<(int[] Prompt, int[] Completion)> pairs,
        int maxBatchTokens = 8192, IProgress<int>? progress = null)
    {
        for (int i = 0; i < pairs.Count; i++)
        {
            if (pairs[i].Prompt.Length == 0) throw new ArgumentException($"pair {i}: the prompt is empty, so the first completion token has no context");
            foreach (int id in pairs[i].Prompt.Concat(pairs[i].Completion))
                if (id < 0 || id >= model.VocabSize) throw new ArgumentException($"pair {i}: token id {id} is outside the vocabulary (size {model.VocabSize})");
        }
        var results = new ScoredCompletion[pairs.Count];
        var order = Enumerable.Range(0, pairs.Count).OrderBy(i => pairs[i].Prompt.Length + pairs[i].Completion.Length).ToList();
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var noGrad = no_grad();
            int done = 0;
            foreach (var batch in Batches(order, pairs, maxBatchTokens))
            {
                ScoreBatch(model, batch, pairs, results);
                progress?.Report(done += batch.Count);
            }
        }
        finally { model.train(wasTraining); }
        return results;
    }

    static IEnumerable<List<int>> Batches(List<int> order, IReadOnlyList<(int[] Prompt, int[] Completion)> pairs, int maxTokens)
    {
        var batch = new List<int>();
        foreach (int i in order) // ascending length: the last row added is the longest
        {
            int length = pairs[i].Prompt.Length + pairs[i].Completion.Length;
            if (batch.Count > 0 && (batch.Count + 1) * length > maxTokens) { yield return batch; batch = new(); }
            batch.Add(i);
        }
        if (batch.Count > 0) yield return batch;
    }

    static void ScoreBatch(CausalLM model, List<int> batch, IReadOnlyList<(int[] Prompt, int[] Completion)> pairs,
        ScoredCompletion[] results)
    {
        using var scope = NewDisposeScope();
        int longest = batch.Max(i => pairs[i].Prompt.Length + pairs[i].Completion.Length);
        var ids = new long[batch.Count * longest];
        var rows = new List<long>(); var targets = new List<long>();
        for (int r = 0; r < batch.Count; r++)
        {
            var (prompt, completion) = pairs[batch[r]];
            int offset = r * longest;
            for (int i = 0; i < prompt.Length; i++) ids[offset + i] = prompt[i];
            for (int i = 0; i < completion.Length; i++)
            {
                ids[offset + prompt.Length + i] = completion[i];
                rows.Add(offset + prompt.Length + i - 1); // the position whose logits predict completion[i]
                targets.Add(completion[i]);
            }
        }
        var values = Array.Empty<float>();
        if (rows.Count > 0)
        {
            var device = model.Device;
            var hidden = model.HiddenStates(tensor(ids, [batch.Count, longest], device: device), null, null, null);
            var picked = hidden.reshape(-1, hidden.shape[^1]).index_select(0, tensor(rows.ToArray(), device: device));
            var logits = model.Logits(picked);
            var target = tensor(targets.ToArray(), device: device).unsqueeze(1);
            var logprobs = logits.gather(1, target).squeeze(1) - logits.logsumexp(1);
            values = logprobs.cpu().data<float>().ToArray();
        }
        int at = 0;
        foreach (int i in batch)
        {
            var tokenLogprobs = values.AsSpan(at, pairs[i].Completion.Length).ToArray();
            at += tokenLogprobs.Length;
            results[i] = new ScoredCompletion(tokenLogprobs.Sum(x => (double)x), tokenLogprobs);
        }
    }
}
