using System.Globalization;
using System.Text;
using StepDpo.Core;
using StepDpo.Core.Manifests;
using StepDpo.Stages.Models;
using StepDpo.Torch.Training;

namespace StepDpo.Cli.Commands;

/// <summary>
/// `stepdpo plan --memory`: the memory plan (Training/MemoryPlan.cs) of a manifest on one device, stage by stage, and in
/// plain words which ways of training fit: full fine-tuning with and without gradient checkpointing, LoRA (the manifest's,
/// or rank 16 on every projection). Each way gets the largest micro-batch that divides the global batch and fits; the
/// global batch is the recipe's, kept on one device by accumulation. Sizes in GB (10^9 bytes).
/// </summary>
public static class MemoryReport
{
    static readonly string[] AllProjections = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];

    public static string Build(Manifest m, Workspace ws, string device, long total)
    {
        var config = ModelShapes.StartModel(m, ws);
        var t = m.Train;
        var dtype = TrainDtype.Parse(t.Dtype)!.Value;
        var plan = new MemoryPlan(config, dtype);
        long usable = DeviceMemory.Usable(device, total);
        int global = t.GlobalBatchSize ?? (t.PerDeviceBatchSize!.Value * t.GradientAccumulationSteps * t.NumDevices);
        MicroBatchShape Pairs(int n) => MicroBatchShape.StepDpo(n, t.MaxLength, sharedPrefix: true);
        var lora = t.Lora is { } l ? new LoraOptions { Rank = l.Rank, Alpha = l.Alpha, TargetModules = l.TargetModules }
            : new LoraOptions { Rank = 16, Alpha = 32, TargetModules = AllProjections };

        var text = new StringBuilder();
        text.AppendLine($"memory plan for {m.Name} on {device}: {Gb(total)} GB, {Gb(usable)} GB usable ({Headroom(device)})");
        text.AppendLine($"model {m.Model.Path ?? $"{m.Model.Init!.Arch}/{m.Model.Init.Preset} (random init)"}: {config.ModelType}, " +
            $"{(plan.Parameters >= 1e9 ? $"{plan.Parameters / 1e9:F2} B" : $"{plan.Parameters / 1e6:F2} M")} parameters, {config.NumHiddenLayers} layers, hidden {config.HiddenSize}, vocabulary {config.VocabSize}; " +
            $"training in {t.Dtype}");
        text.AppendLine($"train: global batch {global} pairs per step on one device; worst case per pair 2 x max_length = {2 * t.MaxLength} tokens " +
            "in one shared-prefix row; the reference log-probs are computed once and cached, so no reference model is held");
        text.AppendLine();
        text.AppendLine("| stage | run | micro-batch x accumulation | weights | gradients | optimizer | activations | total | fits |");
        text.AppendLine("|---|---|---|---:|---:|---:|---:|---:|---|");

        var ways = new List<(string Name, bool Checkpointing, LoraOptions? Lora)>
        {
            ("full fine-tuning", false, null), ("full fine-tuning + gradient checkpointing", true, null),
            ($"LoRA r{lora.Rank} ({Targets(lora)})", false, lora),
            ($"LoRA r{lora.Rank} + gradient checkpointing", true, lora),
        };
        var verdicts = new List<(string Name, (int MicroBatch, int Accumulation, MemoryEstimate Estimate)? Fit, MemoryEstimate AtOne)>();
        foreach (var (name, checkpointing, way) in ways)
        {
            var fit = plan.FitBatch(global, Pairs, usable, checkpointing, way);
            var atOne = plan.Training(Pairs(1), global, checkpointing, way);
            verdicts.Add((name, fit, atOne));
            var shown = fit?.Estimate ?? atOne;
            Row(text, "train", name, fit is { } f ? $"{f.MicroBatch} x {f.Accumulation}" : $"1 x {global}", shown, fit is not null ? "yes" : "no");
        }

        var manifestWay = plan.Training(Pairs(t.PerDeviceBatchSize ?? 1), t.GradientAccumulationSteps * t.NumDevices, t.GradientCheckpointing,
            t.Lora is null ? null : lora);
        Row(text, "train", $"as the manifest says ({(t.Lora is null ? "full" : "LoRA")}{(t.GradientCheckpointing ? ", checkpointing" : "")})",
            t.PerDeviceBatchSize is int per ? $"{per} x {t.GradientAccumulationSteps * t.NumDevices}" : "auto", manifestWay,
            t.PerDeviceBatchSize is null ? "see above" : manifestWay.Total <= usable ? "yes" : "no");
        if (m.Sft is { Enabled: true } sft)
        {
            var sftEstimate = plan.Training(MicroBatchShape.Sft(sft.PerDeviceBatchSize ?? 1, sft.MaxLength), sft.GradientAccumulationSteps,
                sft.GradientCheckpointing, null, "sft");
            Row(text, "sft", "full fine-tuning" + (sft.GradientCheckpointing ? " + gradient checkpointing" : ""),
                $"{sft.PerDeviceBatchSize?.ToString(CultureInfo.InvariantCulture) ?? "auto"} x {sft.GradientAccumulationSteps}",
                sftEstimate, sftEstimate.Total <= usable ? "yes" : "no");
        }
        var reference = plan.Reference(Pairs(t.PerDeviceBatchSize ?? 1));
        Row(text, "reference log-probs", "once, no gradients", $"{t.PerDeviceBatchSize?.ToString(CultureInfo.InvariantCulture) ?? "1"}",
            reference, reference.Total <= usable ? "yes" : "no");
        foreach (var (stage, backend, batch, newTokens) in new[]
        {
            ("sample", m.Sample.Backend, Math.Max(m.Sample.BatchSize, m.Sample.N), m.Sample.MaxNewTokens),
            ("evaluate", m.Evaluate.Backend, m.Evaluate.BatchSize, m.Evaluate.MaxNewTokens),
        })
        {
            if (backend != "local") continue;
            var g = plan.Generation(batch, t.MaxPromptLength, newTokens);
            Row(text, stage, $"generation, KV cache for {batch} sequences x ({t.MaxPromptLength} + {newTokens}) tokens", "-", g,
                g.Total <= usable ? "yes" : "no");
        }

        text.AppendLine();
        var fits = verdicts.Where(v => v.Fit is not null).ToList();
        var not = verdicts.Where(v => v.Fit is null).ToList();
        text.Append($"On {device} with {Gb(total)} GB: ");
        text.Append(fits.Count == 0 ? "neither full fine-tuning nor LoRA fits, even at one pair per micro-batch. "
            : "fits: " + string.Join("; ", fits.Select(v => $"{v.Name} (micro-batch {v.Fit!.Value.MicroBatch} x accumulation {v.Fit.Value.Accumulation}, {Gb(v.Fit.Value.Estimate.Total)} GB)")) + ". ");
        if (not.Count > 0)
            text.Append("Does not fit: " + string.Join("; ", not.Select(v => $"{v.Name} ({Gb(v.AtOne.Total)} GB at one pair per micro-batch)")) + ".");
        text.AppendLine();
        return text.ToString();
    }

    static void Row(StringBuilder text, string stage, string run, string batch, MemoryEstimate e, string fits) =>
        text.AppendLine($"| {stage} | {run} | {batch} | {Gb(e.Weights)} | {Gb(e.Gradients)} | {Gb(e.OptimizerStates)} | {Gb(e.Activations)} | {Gb(e.Total)} | {fits} |");

    static string Targets(LoraOptions lora) =>
        AllProjections.All(lora.TargetModules.Contains) ? "all projections" : string.Join(",", lora.TargetModules);

    static string Gb(long bytes) => (bytes / 1e9).ToString("F1", CultureInfo.InvariantCulture);

    static string Headroom(string device) => device == "cpu"
        ? "70%: glibc keeps freed blocks resident, other processes share the machine"
        : "92% less 1 GiB: CUDA context, library workspaces, allocator fragmentation";
}
