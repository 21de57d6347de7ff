using StepDpo.Core.Manifests;
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
        MicroBatchSize = s.PerDeviceBatchSize,
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
}
