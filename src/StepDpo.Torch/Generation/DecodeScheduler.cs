using StepDpo.Torch.Devices;
using StepDpo.Torch.Model;
using static TorchSharp.torch;

namespace StepDpo.Torch.Generation;

/// <summary>
/// Keeps the batch full. Prompts wait in a queue (each with its N samples, which share its prefill); whenever an
/// eighth of the batch has finished, the finished rows leave and as many waiting prompts as fit are prefilled together
/// (sharing common prefixes, see <see cref="PromptPrefill"/>) and join the running rows, so a long sequence no longer
/// holds a nearly empty batch. Each sequence draws from its own generator seeded by (seed, prompt, sample), so what it
/// generates does not depend on which others share its batch. With <see cref="SamplingOptions.ContinuousBatching"/>
/// off (the default), prompts are taken in static batches (a batch ends with its last sequence; finished rows leave at
/// once; every prompt is prefilled alone), and <see cref="SamplingOptions.Workers"/> batches run at once on the CPU.
/// </summary>
sealed class DecodeScheduler(CausalLM model, Func<SequenceSampler> newSampler, SamplingOptions options)
{
    public void Run(IReadOnlyList<Sequence[]> promptSamples, IReadOnlyList<int[]> prompts, CancellationToken ct)
    {
        int capacity = Math.Max(options.MaxBatchSize, options.N);
        if (options.ContinuousBatching)
        {
            // Sorted by tokens, so prompts that share a prefix arrive together.
            var sorted = Enumerable.Range(0, prompts.Count).ToList();
            sorted.Sort((a, b) => PromptPrefill.Compare(prompts[a], prompts[b]));
            RunQueue(new Queue<int>(sorted), promptSamples, prompts, newSampler(), capacity, ct);
            return;
        }
        // Static batches, by length (less padding), fixed by the prompts and the batch size alone: how many run at once
        // (options.Workers, each on its own thread) changes no sequence's numbers.
        var batches = Enumerable.Range(0, prompts.Count).OrderBy(i => prompts[i].Length).Chunk(capacity / options.N).ToList();
        CpuWorkers.Run(batches, options.Workers, batch =>
        {
            using var noGrad = no_grad(); // grad mode is per thread
            RunQueue(new Queue<int>(batch), promptSamples, prompts, newSampler(), capacity, ct);
        });
    }

    void RunQueue(Queue<int> waiting, IReadOnlyList<Sequence[]> promptSamples, IReadOnlyList<int[]> prompts,
        SequenceSampler sampler, int capacity, CancellationToken ct)
    {
        bool continuous = options.ContinuousBatching;
        int compactAt = continuous ? Math.Max(1, capacity / 8) : 1;
        using var batch = new RunningBatch(model, options.MaxNewTokens);
        while (waiting.Count > 0 || batch.Running > 0)
        {
            ct.ThrowIfCancellationRequested();
            bool compact = batch.Finished > 0 && (batch.Running == 0 || batch.Finished >= compactAt);
            if (batch.Rows.Count == 0 || compact)
            {
                int room = continuous || batch.Running == 0 ? (capacity - batch.Running) / options.N : 0;
                var admitted = new List<int>();
                while (admitted.Count < room && waiting.Count > 0) admitted.Add(waiting.Dequeue());
                Admit(batch, admitted, promptSamples, prompts, sampler, continuous);
                continue;
            }
            using var logits = batch.Step();
            sampler.Sample(logits, batch.Rows);
        }
    }

    /// <summary>Prefills the admitted prompts, draws every sample's first token from its prompt's logits, and rebuilds the
    /// batch with them (dropping its finished rows).</summary>
    void Admit(RunningBatch batch, List<int> admitted, IReadOnlyList<Sequence[]> promptSamples, IReadOnlyList<int[]> prompts,
        SequenceSampler sampler, bool sharePrefixes)
    {
        if (admitted.Count == 0) { batch.Rebuild(null, [], []); return; }
        using var prefill = PromptPrefill.Run(model, admitted.Select(p => prompts[p]).ToList(), sharePrefixes);
        var fresh = admitted.SelectMany(p => promptSamples[p]).ToList();
        var row = admitted.SelectMany((p, i) => Enumerable.Repeat(i, promptSamples[p].Length)).ToList();
        using (var scope = NewDisposeScope())
        {
            var rows = tensor(row.Select(r => (long)r).ToArray(), device: model.Device);
            sampler.Sample(prefill.Logits[rows], fresh);
        }
        batch.Rebuild(prefill, fresh, row);
    }
}
