using StepDpo.Stages.Records;
using StepDpo.Text;
using StepDpo.Torch.Devices;
using StepDpo.Torch.Generation;
using StepDpo.Torch.Model;

namespace StepDpo.Stages.Sampling;

/// <summary>The TorchSharp generation engine: prompts are batched (with their N samples sharing one prefill) up to
/// <paramref name="batchSize"/> sequences per forward pass.</summary>
public sealed class LocalSampler(CausalLM model, ITokenizer tokenizer, int batchSize, bool ownsModel = true) : ISampler
{
    readonly GenerationEngine engine = new(model, tokenizer);

    /// <summary>Sequences per call: four static batches, which the CPU decodes several at once (SamplingOptions.Workers).
    /// A constant, not the core count: a call's prompts decide its batches, so results do not depend on the machine.</summary>
    public int PreferredChunk => 4 * System.Math.Max(1, batchSize);

    public CausalLM Model => model;
    public ITokenizer Tokenizer => tokenizer;

    public Task<IReadOnlyList<IReadOnlyList<string>>> SampleAsync(IReadOnlyList<SamplePrompt> prompts, SampleParams p,
        Action<int>? onSequencesDone, CancellationToken ct)
    {
        var options = new SamplingOptions
        {
            N = p.N,
            Temperature = p.Temperature,
            TopP = p.TopP,
            MaxNewTokens = p.MaxNewTokens,
            StopStrings = p.Stop,
            MaxBatchSize = System.Math.Max(batchSize, p.N),
            Workers = CpuWorkers.For(model.Device),
            PromptSeeds = prompts.Select(q => (ulong)SeedDerivation.Derive(p.Seed, q.Id, 0)).ToArray(),
        };
        int reported = 0;
        var progress = onSequencesDone is null ? null : new Progress<GenerationProgress>(g =>
        {
            int delta = g.FinishedSequences - Interlocked.Exchange(ref reported, g.FinishedSequences);
            if (delta > 0) onSequencesDone(delta);
        });
        var completions = engine.Generate(prompts.Select(q => q.Text).ToList(), options, progress, ct);
        IReadOnlyList<IReadOnlyList<string>> result = Enumerable.Range(0, prompts.Count)
            .Select(i => (IReadOnlyList<string>)completions.Skip(i * p.N).Take(p.N).Select(c => c.Text).ToList())
            .ToList();
        return Task.FromResult(result);
    }

    public void Dispose()
    {
        if (ownsModel) model.Dispose();
    }
}
