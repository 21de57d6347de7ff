using StepDpo.Core;
using StepDpo.Core.Manifests;
using StepDpo.Stages.Models;
using StepDpo.Torch.Model;
using StepDpo.Torch.Training;

namespace StepDpo.Stages.Implementations;

/// <summary>Maps the manifest's optimiser sections onto the trainer's options. One device here: the global batch of
/// the recipe (per device x accumulation x devices) is kept by accumulating over the devices too.</summary>
public static class TrainOptionsFrom
{
    static TrainOptions Common(OptimSection s, long seed) => new()
    {
        LearningRate = s.LearningRate,
        LrScheduler = s.LrScheduler,
        WarmupRatio = s.WarmupRatio,
        Epochs = s.Epochs,
        MicroBatchSize = s.PerDeviceBatchSize ?? 1, // auto: set by FitBatch once the model's shape is known
        GradientAccumulationSteps = s.GradientAccumulationSteps * s.NumDevices,
        MaxLength = s.MaxLength,
        WeightDecay = s.WeightDecay,
        MaxGradNorm = s.MaxGradNorm,
        GradientCheckpointing = s.GradientCheckpointing,
        Dtype = s.Dtype,
        Seed = (int)(seed & int.MaxValue),
        SaveSteps = s.SaveSteps,
    };

    public static TrainOptions Sft(SftSection s, long seed) => Common(s, seed) with { MaxPromptLength = s.MaxLength / 2 };

    public static TrainOptions StepDpo(TrainSection t, long seed) => Common(t, seed) with
    {
        Beta = t.Beta,
        Loss = t.Loss,
        LossWeights = t.LossWeights,
        LabelSmoothing = t.LabelSmoothing,
        DiscopopTau = t.DiscopopTau,
        MaxPromptLength = t.MaxPromptLength,
        EvalFraction = t.EvalFraction,
        EvalSteps = t.EvalSteps,
        Lora = t.Lora is null ? null : new LoraOptions
        {
            Rank = t.Lora.Rank, Alpha = t.Lora.Alpha, TargetModules = t.Lora.TargetModules,
        },
    };

    /// <summary>
    /// per_device_batch_size: auto. The memory plan (Training/MemoryPlan.cs) picks the largest micro-batch that divides
    /// global_batch_size and fits <paramref name="device"/>'s usable memory (DeviceMemory.Usable) with the run's dtype,
    /// checkpointing and LoRA; accumulation makes up the rest of the global batch. <paramref name="shape"/> gives a
    /// micro-batch's worst-case tensors for n examples. Other settings pass through unchanged.
    /// </summary>
    public static TrainOptions FitBatch(OptimSection s, TrainOptions options, ModelConfig config, Func<int, MicroBatchShape> shape,
        string device, IDictionary<string, object> counters)
    {
        if (s.PerDeviceBatchSize is not null) return options;
        long total = DeviceMemory.Total(device) ?? throw new StepDpoException(
            $"per_device_batch_size: auto: the memory of device '{device}' is unknown here; set per_device_batch_size to a number");
        var plan = new MemoryPlan(config, TrainDtype.Parse(options.Dtype)!.Value);
        var fit = plan.FitBatch(s.GlobalBatchSize!.Value, shape, DeviceMemory.Usable(device, total), options.GradientCheckpointing, options.Lora)
            ?? throw new StepDpoException($"per_device_batch_size: auto: not even one example per micro-batch fits {device} " +
                $"({total / 1e9:F1} GB); run `stepdpo plan --memory` to see what does (gradient_checkpointing, lora, a smaller max_length)");
        counters["auto_micro_batch"] = fit.MicroBatch;
        counters["auto_accumulation"] = fit.Accumulation;
        counters["planned_peak_gb"] = Math.Round(fit.Estimate.Total / 1e9, 2);
        return options with { MicroBatchSize = fit.MicroBatch, GradientAccumulationSteps = fit.Accumulation };
    }

    /// <summary>model.device resolved: "cpu" or "cuda:N", the memory the batch has to fit.</summary>
    public static string Device(string device) => global::StepDpo.Torch.Devices.DeviceSpec.Resolve(device).ToString();
}
