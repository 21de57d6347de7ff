using System.Security.Cryptography;
using System.Text;
using StepDpo.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace StepDpo.Torch.Training;

/// <summary>
/// Step-DPO / DPO training of a policy against cached reference log-probs (no reference model in memory), with the
/// shared-prefix layout, length-bucketed micro-batches and the machinery of <see cref="TrainingEngine"/>.
/// </summary>
public static class StepDpoTrainer
{
    /// <summary>Per-step metric names (TRL 1.x DPOTrainer's), in CSV column order. logits/* are the mean logit over the
    /// vocabulary at the completion's tokens, entropy that of the predicted distribution over all completion tokens,
    /// mean_token_accuracy the top-1 hit rate on the chosen completion's tokens.</summary>
    public static readonly string[] MetricNames =
    [
        "loss", "rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins", "logps/chosen", "logps/rejected",
        "logits/chosen", "logits/rejected", "entropy", "mean_token_accuracy",
    ];

    /// <summary>
    /// Trains <paramref name="policy"/> in place on the pairs and writes metrics, checkpoints (checkpoint-N/) and the final
    /// model (final/) under <paramref name="outputDir"/>; resumes from the last checkpoint there. <paramref name="refs"/>
    /// are the start model's log-probs in pair order; null computes them with the policy itself before the first step
    /// (the policy is the start model then), so no second model is ever loaded. <paramref name="saveModel"/> writes the
    /// policy into a directory (the stage binds the HF checkpoint writer, or with LoRA the PEFT adapter writer; default:
    /// TorchSharp state dict model.dat). With bfloat16 the policy is converted to bf16 weights and trained with fp32
    /// master weights. With LoRA only the adapters train, checkpoints and final/ hold what the writer saves of them, and
    /// at the end the adapters are merged into the policy in memory.
    /// </summary>
    public static TrainResult Train(ICausalLM policy, IReadOnlyList<TokenizedPair> pairs, ReferenceLogps? refs, TrainOptions opts,
        string outputDir, Action<StepMetrics>? onStep = null, CancellationToken ct = default, Func<string, Task>? saveModel = null)
    {
        opts.Validate();
        var losses = opts.WeightedLosses;
        var settings = new LossSettings(opts.Beta, opts.LabelSmoothing, opts.DiscopopTau);
        if (pairs.Count == 0) throw new StepDpoException("train: no preference pairs to train on");
        PrepareModel(policy, opts);
        using var checkpointed = CheckpointingView(ref policy, opts);
        Directory.CreateDirectory(outputDir);
        refs ??= ReferenceLogProbs.ComputeOrLoad(() => policy, pairs, Path.Combine(outputDir, ReferenceLogProbs.FileName),
            "policy-at-start:" + ModelFingerprint(policy), "pretokenized", opts.MicroBatchSize, disposeReference: false, ct: ct);
        if (refs.Count != pairs.Count)
            throw new StepDpoException($"train: the reference log-probs cover {refs.Count} pairs, the data has {pairs.Count}");

        using var lora = opts.Lora is null ? null : new LoraAdapters(policy.Module, opts.Lora, opts.Seed);
        var (trainIdx, evalIdx) = BatchPlanner.Split(pairs.Count, opts.EvalFraction, opts.Seed);
        var train = trainIdx.Select(i => pairs[i]).ToList();
        var trainRefs = Subset(refs, trainIdx);

        MicroResult Step(IReadOnlyList<TokenizedPair> batchPairs, double[] rc, double[] rr, double weight, Action<Tensor>? backward)
        {
            using var scope = NewDisposeScope();
            // Batch, reference log-probs and lengths are created on the policy's device: nothing crosses to the host but
            // the metrics below.
            var device = policy.Device;
            using var batch = SharedPrefixBatch.Build(batchPairs, opts.SharedPrefix, device);
            var lp = SharedPrefixBatch.Forward(policy, batch, tokenStats: true);
            var logps = new PairLogps(lp.Chosen, lp.Rejected,
                tensor(rc, ScalarType.Float32, device: device), tensor(rr, ScalarType.Float32, device: device),
                tensor(lp.ChosenTokens.Select(n => (float)n).ToArray(), ScalarType.Float32, device: device),
                tensor(lp.RejectedTokens.Select(n => (float)n).ToArray(), ScalarType.Float32, device: device));
            var output = DpoLoss.Compute(losses, settings, logps);
            backward?.Invoke(output.Loss * weight);
            var cr = output.ChosenRewards; var rj = output.RejectedRewards;
            var stats = lp.Stats!;
            using var logitSums = stats.LogitMean.reshape(-1, 2);
            using var top1 = stats.Top1.reshape(-1, 2);
            // One copy to the host for the loss and every metric (each .item() would be its own transfer on a GPU).
            using var noGrad = no_grad();
            using var host = stack([
                output.Loss.detach(), cr.sum(), rj.sum(), (cr > rj).to(ScalarType.Float32).sum(), (cr - rj).sum(),
                lp.Chosen.detach().sum(), lp.Rejected.detach().sum(), logitSums.select(1, 0).sum(), logitSums.select(1, 1).sum(),
                stats.Entropy.sum(), top1.select(1, 0).sum(),
            ]).to(ScalarType.Float64).cpu();
            var v = host.data<double>().ToArray();
            // Per-pair metrics are summed here and averaged over the step's pairs by the engine; the token-level ones
            // (TRL averages them over the micro-batch's tokens) enter as that average times the micro-batch's pairs.
            double chosenTokens = Math.Max(1, lp.ChosenTokens.Sum()), rejectedTokens = Math.Max(1, lp.RejectedTokens.Sum());
            var sums = new Dictionary<string, double>
            {
                ["rewards/chosen"] = v[1],
                ["rewards/rejected"] = v[2],
                ["rewards/accuracies"] = v[3],
                ["rewards/margins"] = v[4],
                ["logps/chosen"] = v[5],
                ["logps/rejected"] = v[6],
                ["logits/chosen"] = v[7] / chosenTokens * batchPairs.Count,
                ["logits/rejected"] = v[8] / rejectedTokens * batchPairs.Count,
                ["entropy"] = v[9] / (chosenTokens + rejectedTokens) * batchPairs.Count,
                ["mean_token_accuracy"] = v[10] / chosenTokens * batchPairs.Count,
            };
            return new MicroResult((float)v[0] * weight, batch.RealTokens, batchPairs.Count, sums);
        }

        var engine = new TrainingEngine
        {
            Model = policy,
            Options = opts,
            OutputDirectory = outputDir,
            Trainable = lora?.Parameters ?? policy.Module.named_parameters().Where(p => p.parameter.requires_grad).ToList(),
            Lengths = train.Select(p => opts.SharedPrefix ? p.SharedLength : p.FullLength).ToList(),
            WeightOf = batch => batch.Length,
            RunMicroStep = (batch, weight, backward) => Step(batch.Select(i => train[i]).ToList(),
                batch.Select(i => trainRefs.Chosen[i]).ToArray(), batch.Select(i => trainRefs.Rejected[i]).ToArray(), weight, backward),
            Evaluate = evalIdx.Length == 0 ? null : () => Evaluate(evalIdx),
            MetricNames = MetricNames,
            EvalMetricNames = MetricNames,
            SaveModel = saveModel ?? (dir => { policy.Module.save(Path.Combine(dir, "model.dat")); return Task.CompletedTask; }),
            OnStep = onStep,
            DataKey = refs.Key + ":" + Fingerprint(train),
        };
        var result = engine.Run(ct);
        lora?.Merge(); // the model in memory is the trained one, as with full fine-tuning
        return result;

        IReadOnlyDictionary<string, double> Evaluate(int[] idx)
        {
            var totals = new Dictionary<string, double>();
            double loss = 0;
            for (int s = 0; s < idx.Length; s += opts.MicroBatchSize)
            {
                var chunk = idx.Skip(s).Take(opts.MicroBatchSize).ToArray();
                var r = Step(chunk.Select(i => pairs[i]).ToList(), chunk.Select(i => refs.Chosen[i]).ToArray(),
                    chunk.Select(i => refs.Rejected[i]).ToArray(), (double)chunk.Length / idx.Length, backward: null);
                loss += r.WeightedLoss;
                foreach (var (k, v) in r.Sums) totals[k] = totals.GetValueOrDefault(k) + v / idx.Length;
            }
            totals["loss"] = loss;
            return totals;
        }
    }

    /// <summary>Puts the model in the training dtype. Called by the trainers; public so the reference pass of a stage
    /// can run in the same dtype as training (a bf16 policy against fp32 reference log-probs would show a spurious
    /// reward at step 0).</summary>
    public static void PrepareModel(ICausalLM model, TrainOptions opts)
    {
        var dtype = TrainDtype.Parse(opts.Dtype)!.Value;
        if (model.Module.parameters().Any(p => p.dtype != dtype)) model.Module.to(dtype);
    }

    /// <summary>With gradient_checkpointing, the real decoder is trained through <see cref="CheckpointedCausalLM"/>
    /// (same weights, layers recomputed in backward); other models handle it themselves via
    /// <see cref="IGradientCheckpointable"/>. Returns the view to dispose, or null.</summary>
    internal static IDisposable? CheckpointingView(ref ICausalLM model, TrainOptions opts)
    {
        if (!opts.GradientCheckpointing || model is not Model.CausalLM real) return null;
        var view = new CheckpointedCausalLM(real);
        model = view;
        return view;
    }

    static ReferenceLogps Subset(ReferenceLogps refs, int[] idx) => new(refs.Key,
        idx.Select(i => refs.Chosen[i]).ToArray(), idx.Select(i => refs.Rejected[i]).ToArray(),
        idx.Select(i => refs.ChosenTokens[i]).ToArray(), idx.Select(i => refs.RejectedTokens[i]).ToArray());

    internal static string Fingerprint(IEnumerable<TokenizedPair> pairs) =>
        ReferenceLogProbs.CacheKey(pairs.ToList(), "", "")[..16];

    /// <summary>SHA-256 over parameter names and bytes: identifies a start model when no checkpoint id is given.</summary>
    public static string ModelFingerprint(ICausalLM model)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var (name, p) in model.Module.named_parameters())
        {
            sha.AppendData(Encoding.UTF8.GetBytes(name + ":" + p.dtype + ":"));
            Checkpoints.TensorBytes.ForEachChunk(p, p.dtype, bytes => sha.AppendData(bytes));
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset())[..16];
    }
}
