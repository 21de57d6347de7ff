using StepDpo.Core.Artifacts;
using StepDpo.Core.Graph;
using StepDpo.Core.Manifests;
using StepDpo.Stages.Implementations;
using StepDpo.Stages.Models;
using StepDpo.Text;
using StepDpo.Torch.Checkpoints;
using StepDpo.Torch.Training;

namespace StepDpo.Stages.Training;

/// <summary>
/// `local`: Step-DPO in this process with the TorchSharp trainer. Each pair conditions on the template-rendered prompt
/// + initial_reason_steps; chosen/rejected are single steps. The start model's log-probs are computed once, before
/// training, with the policy itself (it IS the start model then), and cached under artifacts/store/.cache/reference/
/// keyed by (pairs, start model, dtype, device, micro-batch, tokenisation): no second model is ever held in memory, and
/// a rerun with another beta or learning rate reuses them, in any experiment. Reads the train section but the TRL job's
/// keys (trl, offload).
/// </summary>
public sealed class LocalTrainer : TrainerBackend
{
    public override string Name => "local";

    public override object Read(ManifestReader<Manifest> m) => m.GetExcept(x => x.Train, t => t.Backend, t => t.Trl, t => t.Offload);

    public override Task RunAsync(TrainJob job, object settings, CancellationToken ct)
    {
        var (ctx, train) = (job.Context, (TrainSection)settings);
        string startDir = ModelStore.StartModelDir(ctx, job.Model, job.StartModel);
        var options = TrainOptionsFrom.StepDpo(train, ctx.Seed(job.Seed, "train"));
        // Loaded straight in the training dtype onto model.device (a bf16 checkpoint never exists as fp32 in memory);
        // the reference pass runs there too.
        var (model, tokenizer) = ModelStore.Load(startDir, options.Dtype, job.Model.Device);
        using var _ = model;
        options = TrainOptionsFrom.FitBatch(train, options, model.Config,
            n => MicroBatchShape.StepDpo(n, options.MaxLength, options.SharedPrefix), TrainOptionsFrom.Device(job.Model.Device), ctx.Counters);
        var pairTokenizer = new PairTokenizer(tokenizer, options);
        var tokenized = job.Pairs.Select((p, i) => pairTokenizer.Tokenize(new PreferencePair(
                PromptTemplates.TrainingCondition(job.Model.Template, p.Prompt, p.InitialReasonSteps), p.Chosen, p.Rejected),
            $"{job.PairsFile} line {i + 1}")).ToList();
        ctx.Count("pairs", tokenized.Count);
        ctx.Count("tokens_shared_prefix", tokenized.Sum(t => (long)t.SharedLength));
        ctx.Count("tokens_two_sequences", tokenized.Sum(t => (long)t.FullLength));

        StepDpoTrainer.PrepareModel(model, options);
        // What the values depend on besides the token ids: the weights, the dtype and device they are computed in, and the
        // micro-batch (its padding changes the rounding), so a bf16 run never reuses fp32 values and a rerun is exact.
        string modelId = "start:" + new ContentHasher(Path.Combine(ctx.Workspace.ArtifactsDir, ".hashes.json")).Hash(startDir) +
            $";dtype={options.Dtype};device={model.Device};micro_batch={options.MicroBatchSize}";
        string key = ReferenceLogProbs.CacheKey(tokenized, modelId, pairTokenizer.SettingsKey);
        string cache = Path.Combine(new ArtifactStore(ctx.Workspace.ArtifactsDir).CacheDir("reference"), key[..16] + ".jsonl");
        Directory.CreateDirectory(Path.GetDirectoryName(cache)!);
        ReferenceLogps refs;
        using (var bar = ctx.Progress.Start("reference log-probs", tokenized.Count))
            refs = ReferenceLogProbs.ComputeOrLoad(() => model, tokenized, cache, modelId, pairTokenizer.SettingsKey,
                options.MicroBatchSize, (done, _) => bar.SetValue(done), disposeReference: false, ct: ct);
        ctx.Counters["reference_logps"] = Core.Workspace.Display(cache);

        using var progress = ctx.Progress.Start("train", 1);
        var result = StepDpoTrainer.Train(model, tokenized, refs, options, ctx.Dir, step =>
            {
                progress.SetTotal(step.TotalSteps);
                progress.SetValue(step.Step);
                progress.Describe($"train step {step.Step}/{step.TotalSteps} loss {step["loss"]:F3} acc {step["rewards/accuracies"]:F2}");
            }, ct,
            dir =>
            {
                // With LoRA a checkpoint and final/ hold the adapter alone (the base stays where it is).
                if (options.Lora is null) Checkpoint.Save(model, dir, startDir);
                else PeftAdapter.Save(model, dir, baseModel: Path.GetFullPath(startDir), tokenizerFrom: startDir);
                return Task.CompletedTask;
            });
        // The trainer leaves the adapters merged into the model: the merged export is a plain save.
        if (train.Lora is { Merge: true }) ExportMerged(model, ctx.Dir, startDir);
        ctx.Count("steps", result.Steps);
        ctx.RecordFinalMetrics(result.LastStep?.Values);
        return Task.CompletedTask;
    }

    /// <summary>Subfolder of the adapter when lora.merge makes final/ the merged model.</summary>
    public const string AdapterFolder = "adapter";

    /// <summary>lora.merge: the adapter moves from final/ to adapter/, and final/ becomes the merged HF checkpoint.</summary>
    static void ExportMerged(Torch.Model.CausalLM merged, string stageDir, string startDir)
    {
        string final = Path.Combine(stageDir, ModelStore.ModelFolder), adapter = Path.Combine(stageDir, AdapterFolder);
        if (Directory.Exists(adapter)) Directory.Delete(adapter, recursive: true);
        Directory.Move(final, adapter);
        Checkpoint.Save(merged, final, startDir);
    }
}
