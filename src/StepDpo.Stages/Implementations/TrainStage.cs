using StepDpo.Core;
using StepDpo.Core.Artifacts;
using StepDpo.Core.Graph;
using StepDpo.Data;
using StepDpo.Stages.Models;
using StepDpo.Text;
using StepDpo.Torch.Checkpoints;
using StepDpo.Torch.Training;
using StepDpo.Torch.Training.Trl;

namespace StepDpo.Stages.Implementations;

/// <summary>
/// train: Step-DPO on pairs.jsonl. Each pair conditions on the template-rendered prompt + initial_reason_steps;
/// chosen/rejected are single steps. The start model's log-probs are computed once, before training, with the
/// policy itself (it IS the start model then), and cached under artifacts/store/.cache/reference/ keyed by
/// (pairs, start model, dtype, device, micro-batch, tokenisation): no second model is ever held in memory, and a rerun
/// with another beta or learning rate reuses them, in any experiment. Output: metrics.jsonl/csv (TRL 1.x metric names), checkpoints, final/
/// (HF checkpoint; with LoRA the PEFT adapter, or with lora.merge the merged checkpoint and adapter/). Version 3: a list of TRL loss types with weights (rpo_alpha became [sigmoid, sft]); logits/*, entropy
/// and mean_token_accuracy logged, nll_loss no longer (v2: the TRL dialects and their import).
/// </summary>
public sealed class TrainStage : PipelineStage
{
    public override string Name => "train";
    public override int Version => 5; // 5: optimizer.safetensors, PEFT adapters, per_device_batch_size auto; 4: loaded in the training dtype on model.device, causal SDPA

    public override Task RunAsync(StageContext ctx, CancellationToken ct)
    {
        var m = ctx.Manifest;
        string pairsFile = Path.Combine(ctx.Upstream("pairs"), PairsStage.FileName);
        var pairs = PairFile.Read(pairsFile).ToList();
        if (pairs.Count == 0) throw new StepDpoException($"{pairsFile}: no pairs to train on (see the pairs stage counters in its stage.json)");
        if (m.Train.Backend == "trl") return Trl(ctx, pairs, ct);

        string startDir = ModelStore.StartModelDir(ctx);
        var options = TrainOptionsFrom.StepDpo(m.Train, ctx.Seed("train"));
        // Loaded straight in the training dtype onto model.device (a bf16 checkpoint never exists as fp32 in memory);
        // the reference pass runs there too.
        var (model, tokenizer) = ModelStore.Load(startDir, options.Dtype, m.Model.Device);
        using var _ = model;
        options = TrainOptionsFrom.FitBatch(m.Train, options, model.Config,
            n => MicroBatchShape.StepDpo(n, options.MaxLength, options.SharedPrefix), TrainOptionsFrom.Device(m), ctx.Counters);
        var pairTokenizer = new PairTokenizer(tokenizer, options);
        var tokenized = pairs.Select((p, i) => pairTokenizer.Tokenize(new PreferencePair(
                PromptTemplates.TrainingCondition(m.Model.Template, p.Prompt, p.InitialReasonSteps), p.Chosen, p.Rejected),
            $"{pairsFile} line {i + 1}")).ToList();
        Count(ctx, "pairs", tokenized.Count);
        Count(ctx, "tokens_shared_prefix", tokenized.Sum(t => (long)t.SharedLength));
        Count(ctx, "tokens_two_sequences", tokenized.Sum(t => (long)t.FullLength));

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
        ctx.Counters["reference_logps"] = Workspace.Display(cache);

        using var train = ctx.Progress.Start("train", 1);
        var result = StepDpoTrainer.Train(model, tokenized, refs, options, ctx.Dir, step =>
            {
                train.SetTotal(step.TotalSteps);
                train.SetValue(step.Step);
                train.Describe($"train step {step.Step}/{step.TotalSteps} loss {step["loss"]:F3} acc {step["rewards/accuracies"]:F2}");
            }, ct,
            dir =>
            {
                // With LoRA a checkpoint and final/ hold the adapter alone (the base stays where it is).
                if (options.Lora is null) Checkpoint.Save(model, dir, startDir);
                else PeftAdapter.Save(model, dir, baseModel: Path.GetFullPath(startDir), tokenizerFrom: startDir);
                return Task.CompletedTask;
            });
        // The trainer leaves the adapters merged into the model: the merged export is a plain save.
        if (m.Train.Lora is { Merge: true }) ExportMerged(model, ctx.Dir, startDir);
        Count(ctx, "steps", result.Steps);
        RecordFinalMetrics(ctx, result.LastStep);
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

    /// <summary>
    /// train.backend trl: the same hyperparameters as a TRL DPOTrainer job on GPUs (accelerate + DeepSpeed ZeRO-3) in
    /// the dialect of train.trl.version: data, config, the shipped Step-DPO scripts, accelerate_zero3.yaml,
    /// requirements.txt and launch.sh go into the stage directory, and the job runs when `accelerate` is on PATH (its
    /// output, secrets masked, also goes to train.log). A finished job's output/ becomes final/ and its log history
    /// metrics.jsonl; a rerun whose output/ is already complete (e.g. launch.sh run by hand on a GPU node) imports it
    /// without the launcher. Without the launcher and without output the stage stops after writing the files.
    /// </summary>
    static Task Trl(StageContext ctx, IReadOnlyList<StepDpoPair> pairs, CancellationToken ct)
    {
        var m = ctx.Manifest;
        if (m.Train.PerDeviceBatchSize is null)
            throw new StepDpoException("train.per_device_batch_size: auto is planned for the local trainer; set a number for train.backend trl");
        string output = ctx.File(TrlExport.OutputFolder);
        var dialect = TrlDialect.Of(m.Train.Trl.Version);
        if (TrlOutput.Incomplete(output) is { } notYet)
        {
            var options = TrainOptionsFrom.StepDpo(m.Train, ctx.Seed("train"));
            var t = m.Train.Trl;
            var job = new TrlJob(m.Train.NumDevices, t.Machines, t.MachineRank, t.MainProcessIp, t.MainProcessPort, m.Train.Offload);
            var launch = TrlExport.Write(ctx.Dir, pairs.Select(q => new StepDpoRecord(q.Prompt, q.InitialReasonSteps, q.Chosen, q.Rejected)).ToList(),
                r => PromptTemplates.TrainingCondition(m.Model.Template, r.Prompt, r.InitialReasonSteps), options,
                ModelStore.StartModelDir(ctx), dialect, job);
            int? exit = TrlOutput.RunIfAvailable(launch, ctx.File("train.log"), ctx.Progress.Info, ct);
            if (exit is null)
                throw new StepDpoException($"train.backend trl: wrote {string.Join(", ", launch.Files)} to {Workspace.Display(ctx.Dir)}, " +
                    $"but `{TrlExport.Launcher}` is not on PATH, so nothing was trained ({notYet}). On a GPU node: " +
                    $"`pip install -r requirements.txt && sh {Workspace.Display(Path.Combine(ctx.Dir, "launch.sh"))}`, then rerun this stage (it imports output/).");
            if (exit != 0) throw new StepDpoException($"train.backend trl: launch.sh exited with {exit}; see {Workspace.Display(ctx.File("train.log"))}");
        }
        var imported = TrlOutput.Import(output, ctx.File(ModelStore.ModelFolder), ctx.Dir);
        ctx.Counters["trl_version"] = dialect.Version;
        Count(ctx, "steps", imported.Steps);
        foreach (var (k, v) in imported.Summary) ctx.Counters[$"trl_{k}"] = System.Math.Round(v, 5);
        if (imported.LastTrainRow is { } last)
            foreach (var (k, v) in last) ctx.Counters[$"final_{k.Replace('/', '_')}"] = System.Math.Round(v, 5);
        return Task.CompletedTask;
    }
}
