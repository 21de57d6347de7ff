using StepDpo.Core;
using StepDpo.Core.Graph;
using StepDpo.Core.Manifests;
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
public sealed class SftStage(string name = "sft", Links? links = null) : PipelineStage<SftStage.Input>(name, links)
{
    public override int Version => 4; // 4: attention written out on the CPU up to 256 keys, the LM head on scored rows only (other float rounding); 3: loaded in the training dtype on model.device; optimizer.safetensors; per_device_batch_size auto

    /// <param name="Device">the kind of device model.device resolves to here</param>
    /// <param name="Data">the training split it learns from (<see cref="Slices.SftExamples"/>)</param>
    public sealed record Input(long Seed, ModelSection Model, string Device, DataSlice Data, SftSection Sft);

    public override IReadOnlyList<string> DependsOn(ManifestReader<Manifest> m) => [];

    public override string? DisabledReason(ManifestReader<Manifest> m) =>
        !m.IsSet(x => x.Sft) ? "no sft section: the model is used as it is" : !m.Get(x => x.Sft!.Enabled) ? "sft.enabled is false" : null;

    protected override Input Read(ManifestReader<Manifest> m) =>
        new(m.Get(x => x.Seed), m.Get(x => x.Model), Slices.DeviceKind(m), Slices.SftExamples(m), m.Get(x => x.Sft)!);

    protected override IEnumerable<string> Files(Input input, Workspace ws) =>
        ModelStore.StartModelFiles(input.Model, ws).Concat(input.Data.Path is { } data ? [ProblemPool.ResolvePath(data, ws)] : []);

    protected override void Check(ReadinessCheck check, Input input, IReadOnlyList<string> upstream) =>
        check.Try(() => check.Note($"{ProblemPool.SftExamples(input.Seed, input.Data, check.Workspace).Problems.Count} training problems"));

    protected override Task RunAsync(StageContext ctx, Input input, CancellationToken ct)
    {
        var (model0, s) = (input.Model, input.Sft);
        string startDir;
        if (model0.Init is { } init)
        {
            startDir = ctx.File("init");
            if (!File.Exists(Path.Combine(startDir, Checkpoint.ConfigFile)))
                ModelStore.CreateRandom(init, ctx.Seed(input.Seed, "init"), startDir, "float32");
        }
        else startDir = ModelStore.StartModelDir(ctx, model0, trainedBy: "");

        var options = TrainOptionsFrom.Sft(s, ctx.Seed(input.Seed, "train"));
        // Loaded straight in the training dtype onto model.device: no float32 copy to convert afterwards.
        var (model, tokenizer) = ModelStore.Load(startDir, options.Dtype, model0.Device);
        using var _ = model;
        string eos = tokenizer.EosIds.Count > 0 ? tokenizer.Decode(new[] { tokenizer.EosIds[0] }) : "";
        options = TrainOptionsFrom.FitBatch(s, options, model.Config, n => MicroBatchShape.Sft(n, options.MaxLength),
            TrainOptionsFrom.Device(model0.Device), ctx.Counters);
        var pairTokenizer = new PairTokenizer(tokenizer, options);
        var pool = ProblemPool.SftExamples(input.Seed, input.Data, ctx.Workspace);
        var examples = pool.Problems
            .Take(s.Examples ?? int.MaxValue)
            .Select(p => pairTokenizer.TokenizeSft(
                PromptTemplates.RenderTrainingPrompt(model0.Template, p.Question),
                PromptTemplates.StepByStep + p.Solution + eos, $"sft example {p.Id}"))
            .ToList();
        ctx.Count("examples", examples.Count);
        ctx.Count("tokens", examples.Sum(e => (long)e.Length));

        using var bar = ctx.Progress.Start("sft", 1);
        var result = SftTrainer.Train(model, examples, options, ctx.Dir, step =>
            {
                bar.Describe($"sft step {step.Step}/{step.TotalSteps} loss {step["loss"]:F3}");
                bar.SetTotal(step.TotalSteps);
                bar.SetValue(step.Step);
            }, ct,
            dir => { Checkpoint.Save(model, dir, startDir); return Task.CompletedTask; });
        ctx.Count("steps", result.Steps);
        ctx.RecordFinalMetrics(result.LastStep?.Values);
        return Task.CompletedTask;
    }
}
