using StepDpo.Core;
using static TorchSharp.torch;

namespace StepDpo.Torch.Training;

/// <summary>
/// Supervised fine-tuning (or training from scratch): cross-entropy on completion tokens only, examples packed several
/// to a row (each sees only itself, positions restart at 0), on the same optimiser, schedule, metrics and checkpoint
/// machinery as <see cref="StepDpoTrainer"/>. The step loss is the mean over the global batch's completion tokens.
/// </summary>
public static class SftTrainer
{
    public static readonly string[] MetricNames = ["loss", "token_accuracy"];

    public static TrainResult Train(ICausalLM model, IReadOnlyList<SftExample> examples, TrainOptions opts, string outputDir,
        Action<StepMetrics>? onStep = null, CancellationToken ct = default, Func<string, Task>? saveModel = null)
    {
        opts.Validate();
        if (examples.Count == 0) throw new StepDpoException("train: no SFT examples to train on");
        for (int i = 0; i < examples.Count; i++)
            if (examples[i].Prompt.Length == 0 || examples[i].Completion.Length == 0)
                throw new StepDpoException($"train: example {i} needs a non-empty prompt and completion");
        StepDpoTrainer.PrepareModel(model, opts);
        using var checkpointed = StepDpoTrainer.CheckpointingView(ref model, opts);
        using var lora = opts.Lora is null ? null : new LoraAdapters(model.Module, opts.Lora, opts.Seed);
        var (trainIdx, evalIdx) = BatchPlanner.Split(examples.Count, opts.EvalFraction, opts.Seed);
        var train = trainIdx.Select(i => examples[i]).ToList();

        MicroResult Step(IReadOnlyList<SftExample> batchExamples, double weight, Action<Tensor>? backward)
        {
            using var scope = NewDisposeScope();
            using var batch = Pack(batchExamples, opts.MaxLength, model.Device);
            var rows = batch.ScoredLogits(model);
            var logp = batch.TargetLogProbs(rows.log_softmax(-1));
            var loss = -logp.mean();
            backward?.Invoke(loss * weight);
            double correct = batch.TopOne(rows).sum().item<long>();
            int tokens = batch.GroupTokenCounts.Sum();
            // Sums are per token here; the engine divides by examples, so report per-example-normalised values instead.
            var sums = new Dictionary<string, double> { ["token_accuracy"] = correct / tokens * batchExamples.Count };
            return new MicroResult(loss.item<float>() * weight, batch.RealTokens, batchExamples.Count, sums);
        }

        var engine = new TrainingEngine
        {
            Model = model,
            Options = opts,
            OutputDirectory = outputDir,
            Trainable = lora?.Parameters ?? model.Module.named_parameters().Where(p => p.parameter.requires_grad).ToList(),
            Lengths = train.Select(e => e.Length).ToList(),
            WeightOf = batch => batch.Sum(i => train[i].Completion.Length),
            RunMicroStep = (batch, weight, backward) => Step(batch.Select(i => train[i]).ToList(), weight, backward),
            Evaluate = evalIdx.Length == 0 ? null : () =>
            {
                double tokens = evalIdx.Sum(i => examples[i].Completion.Length), loss = 0, acc = 0;
                for (int s = 0; s < evalIdx.Length; s += opts.MicroBatchSize)
                {
                    var chunk = evalIdx.Skip(s).Take(opts.MicroBatchSize).Select(i => examples[i]).ToList();
                    double w = chunk.Sum(e => e.Completion.Length) / tokens;
                    var r = Step(chunk, w, backward: null);
                    loss += r.WeightedLoss;
                    acc += r.Sums["token_accuracy"] / chunk.Count * w;
                }
                return new Dictionary<string, double> { ["loss"] = loss, ["token_accuracy"] = acc };
            },
            MetricNames = MetricNames,
            EvalMetricNames = MetricNames,
            SaveModel = saveModel ?? (dir => { model.Module.save(Path.Combine(dir, "model.dat")); return Task.CompletedTask; }),
            OnStep = onStep,
            DataKey = Fingerprint(train),
        };
        var result = engine.Run(ct);
        lora?.Merge(); // the model in memory is the trained one, as with full fine-tuning
        return result;
    }

    /// <summary>First-fit-decreasing packing of examples into rows of at most <paramref name="maxLength"/> tokens; an
    /// example longer than that keeps its first maxLength tokens. Each example is its own segment: it attends only to
    /// itself and its positions start at 0, so packing changes nothing but the padding. The batch is created on
    /// <paramref name="device"/> (the model's; null: the CPU).</summary>
    public static PackedBatch Pack(IReadOnlyList<SftExample> examples, int maxLength, Device? device = null)
    {
        var rows = new List<(List<Segment> Segs, int Used)>();
        var order = Enumerable.Range(0, examples.Count).OrderByDescending(i => examples[i].Length).ThenBy(i => i);
        foreach (int i in order)
        {
            var e = examples[i];
            int[] tokens = [.. e.Prompt, .. e.Completion];
            if (tokens.Length > maxLength) tokens = tokens[..maxLength];
            int scoreFrom = Math.Min(e.Prompt.Length, tokens.Length - 1);
            var seg = new Segment(tokens, 0, ScoreGroup: i, ScoreFrom: Math.Max(1, scoreFrom));
            int row = rows.FindIndex(r => r.Used + tokens.Length <= maxLength);
            if (row < 0) rows.Add(([seg], tokens.Length));
            else rows[row] = ([.. rows[row].Segs, seg], rows[row].Used + tokens.Length);
        }
        return PackedBatch.Build(rows.Select(r => (IReadOnlyList<Segment>)r.Segs).ToList(), examples.Count, device);
    }

    static string Fingerprint(IEnumerable<SftExample> examples) =>
        StepDpoTrainer.Fingerprint(examples.Select(e => new TokenizedPair(e.Prompt, e.Completion, [])));
}
