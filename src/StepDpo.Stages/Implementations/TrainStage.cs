using StepDpo.Core;
using StepDpo.Core.Artifacts;
using StepDpo.Core.Graph;
using StepDpo.Data;
using StepDpo.Stages.Models;
using StepDpo.Text;
using StepDpo.Torch.Checkpoints;
using StepDpo.Torch.Training;

namespace StepDpo.Stages.Implementations;

/// <summary>
/// train: Step-DPO on pairs.jsonl. Each pair conditions on the template-rendered prompt + initial_reason_steps;
/// chosen/rejected are single steps. The start model's log-probs are computed once, before training, with the
/// policy itself (it IS the start model then), and cached under artifacts/store/.cache/reference/ keyed by
/// (pairs, start model, tokenisation): no second model is ever held in memory, and a rerun with another beta or
/// learning rate reuses them, in any experiment. Output: metrics.jsonl/csv, checkpoints, final/ (HF checkpoint).
/// </summary>
public sealed class TrainStage : PipelineStage
{
    public override string Name => "train";
    public override int Version => 1;

    public override Task RunAsync(StageContext ctx, CancellationToken ct)
    {
        var m = ctx.Manifest;
        string pairsFile = Path.Combine(ctx.Upstream("pairs"), PairsStage.FileName);
        var pairs = PairFile.Read(pairsFile).ToList();
        if (pairs.Count == 0) throw new StepDpoException($"{pairsFile}: no pairs to train on (see the pairs stage counters in its stage.json)");
        if (m.Train.Backend == "trl") return Trl(ctx, pairs, ct);

        string startDir = ModelStore.StartModelDir(ctx);
        var (model, tokenizer) = ModelStore.Load(startDir, "float32");
        using var _ = model;
        var options = TrainOptionsFrom.StepDpo(m.Train, ctx.Seed("train"));
        var pairTokenizer = new PairTokenizer(tokenizer, options);
        var tokenized = pairs.Select((p, i) => pairTokenizer.Tokenize(new PreferencePair(
                PromptTemplates.TrainingCondition(m.Model.Template, p.Prompt, p.InitialReasonSteps), p.Chosen, p.Rejected),
            $"{pairsFile} line {i + 1}")).ToList();
        Count(ctx, "pairs", tokenized.Count);
        Count(ctx, "tokens_shared_prefix", tokenized.Sum(t => (long)t.SharedLength));
        Count(ctx, "tokens_two_sequences", tokenized.Sum(t => (long)t.FullLength));

        StepDpoTrainer.PrepareModel(model, options);
        string modelId = "start:" + new ContentHasher(Path.Combine(ctx.Workspace.ArtifactsDir, ".hashes.json")).Hash(startDir);
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
            dir => { Checkpoint.Save(model, dir, startDir); return Task.CompletedTask; });
        Count(ctx, "steps", result.Steps);
        RecordFinalMetrics(ctx, result.LastStep);
        return Task.CompletedTask;
    }

    /// <summary>
    /// train.backend trl: the same hyperparameters as a TRL DPOTrainer job on GPUs (accelerate + DeepSpeed ZeRO-3):
    /// data, dpo_config.yaml, accelerate_zero3.yaml and launch.sh go into the stage directory, and the job runs when
    /// `accelerate` is on PATH; its output checkpoint becomes final/. Without the launcher the stage stops after
    /// writing the files (nothing is marked complete) and says how to run them.
    /// </summary>
    static Task Trl(StageContext ctx, IReadOnlyList<StepDpoPair> pairs, CancellationToken ct)
    {
        var m = ctx.Manifest;
        var options = TrainOptionsFrom.StepDpo(m.Train, ctx.Seed("train"));
        string modelPath = m.Model.Path is { } p && !ctx.UpstreamDirs.ContainsKey("sft") ? p : ModelStore.StartModelDir(ctx);
        var launch = TrlBackend.Write(ctx.Dir, pairs.Select(q => new StepDpoRecord(q.Prompt, q.InitialReasonSteps, q.Chosen, q.Rejected)).ToList(),
            r => PromptTemplates.TrainingCondition(m.Model.Template, r.Prompt, r.InitialReasonSteps), options, modelPath, m.Train.NumDevices);
        int? exit = TrlBackend.RunIfAvailable(launch, ctx.Progress.Info, ct);
        if (exit is null)
            throw new StepDpoException($"train.backend trl: wrote {string.Join(", ", launch.Files)} to {Workspace.Display(ctx.Dir)}, " +
                $"but `{TrlBackend.Launcher}` is not on PATH, so nothing was trained. On a GPU node with TRL and DeepSpeed: " +
                $"`sh {Workspace.Display(Path.Combine(ctx.Dir, "launch.sh"))}`, then rerun this stage (it picks up output/).");
        if (exit != 0) throw new StepDpoException($"train.backend trl: launch.sh exited with {exit}; see the output above");
        string output = Path.Combine(ctx.Dir, "output");
        if (!File.Exists(Path.Combine(output, Checkpoint.ConfigFile)))
            throw new StepDpoException($"train.backend trl: the job finished but {output} holds no checkpoint");
        string final = Path.Combine(ctx.Dir, ModelStore.ModelFolder);
        if (Directory.Exists(final)) Directory.Delete(final, true);
        Directory.Move(output, final);
        return Task.CompletedTask;
    }
}
