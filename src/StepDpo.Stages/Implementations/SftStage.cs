using StepDpo.Core.Graph;
using StepDpo.Stages.Models;
using StepDpo.Stages.Pool;
using StepDpo.Text;
using StepDpo.Torch.Checkpoints;
using StepDpo.Torch.Training;

namespace StepDpo.Stages.Implementations;

/// <summary>
/// sft: supervised fine-tuning on reference solutions (the tiny experiment trains its model from scratch here, so
/// that it reasons step by step and makes step errors worth fixing). The model learns
/// P(problem) -> "Let's think step by step.\nStep 1: ... \boxed{answer}" + EOS, the format the later stages prompt for.
/// Output: final/ (HF checkpoint), metrics.jsonl/csv.
/// </summary>
public sealed class SftStage : PipelineStage
{
    public override string Name => "sft";
    public override int Version => 3; // 3: loaded in the training dtype on model.device; optimizer.safetensors; per_device_batch_size auto

    public override Task RunAsync(StageContext ctx, CancellationToken ct)
    {
        var m = ctx.Manifest;
        var s = m.Sft!;
        string startDir;
        if (m.Model.Init is { } init)
        {
            startDir = ctx.File("init");
            if (!File.Exists(Path.Combine(startDir, Checkpoint.ConfigFile)))
                ModelStore.CreateRandom(init, ctx.Seed("init"), startDir, "float32");
        }
        else startDir = ModelStore.StartModelDir(ctx);

        var options = TrainOptionsFrom.Sft(s, ctx.Seed("train"));
        // Loaded straight in the training dtype onto model.device: no float32 copy to convert afterwards.
        var (model, tokenizer) = ModelStore.Load(startDir, options.Dtype, m.Model.Device);
        using var _ = model;
        string eos = tokenizer.EosIds.Count > 0 ? tokenizer.Decode(new[] { tokenizer.EosIds[0] }) : "";
        options = TrainOptionsFrom.FitBatch(s, options, model.Config, n => MicroBatchShape.Sft(n, options.MaxLength),
            TrainOptionsFrom.Device(m), ctx.Counters);
        var pairTokenizer = new PairTokenizer(tokenizer, options);
        var pool = ProblemPool.SftExamples(m, ctx.Workspace);
        var examples = pool.Problems
            .Take(s.Examples ?? int.MaxValue)
            .Select(p => pairTokenizer.TokenizeSft(
                PromptTemplates.RenderTrainingPrompt(m.Model.Template, p.Question),
                PromptTemplates.StepByStep + p.Solution + eos, $"sft example {p.Id}"))
            .ToList();
        Count(ctx, "examples", examples.Count);
        Count(ctx, "tokens", examples.Sum(e => (long)e.Length));

        using var bar = ctx.Progress.Start("sft", 1);
        var result = SftTrainer.Train(model, examples, options, ctx.Dir, step =>
            {
                bar.Describe($"sft step {step.Step}/{step.TotalSteps} loss {step["loss"]:F3}");
                bar.SetTotal(step.TotalSteps);
                bar.SetValue(step.Step);
            }, ct,
            dir => { Checkpoint.Save(model, dir, startDir); return Task.CompletedTask; });
        Count(ctx, "steps", result.Steps);
        RecordFinalMetrics(ctx, result.LastStep);
        return Task.CompletedTask;
    }
}
