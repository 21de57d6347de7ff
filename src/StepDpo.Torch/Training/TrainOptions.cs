using System.Text.Json.Serialization;
using StepDpo.Core;
using StepDpo.Core.Manifests;

namespace StepDpo.Torch.Training;

/// <summary>
/// Every knob of the DPO / Step-DPO / SFT trainers. JSON names are the snake_case keys of the manifest's `train:` block
/// (and TRL's argument names where TRL has the same knob), so the manifest, the TRL export and the metrics agree.
/// Defaults follow the Step-DPO release scripts (cosine, warmup 0.1, beta 0.4, max_length 1024, max_prompt_length 512).
/// </summary>
public sealed record TrainOptions
{
    /// <summary>DPO temperature: how far the policy may move from the reference.</summary>
    [JsonPropertyName("beta")] public double Beta { get; init; } = 0.4;
    /// <summary>TRL's loss types (<see cref="DpoLossType"/>), summed with <see cref="LossWeights"/>: [sigmoid] is DPO
    /// (Step-DPO on step pairs), [sigmoid, sft] is RPO.</summary>
    [JsonPropertyName("loss")] public IReadOnlyList<string> Loss { get; init; } = ["sigmoid"];
    /// <summary>One weight per loss; empty means 1 each (TRL's default).</summary>
    [JsonPropertyName("loss_weights")] public IReadOnlyList<double> LossWeights { get; init; } = [];
    /// <summary>Label flip probability of robust, epsilon of exo_pair, smoothing of aot and aot_unpaired.</summary>
    [JsonPropertyName("label_smoothing")] public double LabelSmoothing { get; init; }
    /// <summary>Temperature of discopop's log-ratio modulation (the DiscoPOP paper's 0.05).</summary>
    [JsonPropertyName("discopop_tau")] public double DiscopopTau { get; init; } = 0.05;
    [JsonPropertyName("learning_rate")] public double LearningRate { get; init; } = 5e-7;
    /// <summary>cosine, linear or constant; all with linear warmup over <see cref="WarmupRatio"/> of the steps.</summary>
    [JsonPropertyName("lr_scheduler")] public string LrScheduler { get; init; } = "cosine";
    [JsonPropertyName("warmup_ratio")] public double WarmupRatio { get; init; } = 0.1;
    [JsonPropertyName("epochs")] public int Epochs { get; init; } = 1;
    /// <summary>Pairs (DPO) or examples (SFT) per forward pass.</summary>
    [JsonPropertyName("micro_batch_size")] public int MicroBatchSize { get; init; } = 1;
    /// <summary>Micro-batches per optimiser step: global batch = micro_batch_size x gradient_accumulation_steps.</summary>
    [JsonPropertyName("gradient_accumulation_steps")] public int GradientAccumulationSteps { get; init; } = 1;
    /// <summary>Longest prompt + completion in tokens.</summary>
    [JsonPropertyName("max_length")] public int MaxLength { get; init; } = 1024;
    /// <summary>Prompt length kept (its end) when prompt + completion is longer than max_length.</summary>
    [JsonPropertyName("max_prompt_length")] public int MaxPromptLength { get; init; } = 512;
    [JsonPropertyName("weight_decay")] public double WeightDecay { get; init; }
    [JsonPropertyName("adam_beta1")] public double AdamBeta1 { get; init; } = 0.9;
    [JsonPropertyName("adam_beta2")] public double AdamBeta2 { get; init; } = 0.999;
    [JsonPropertyName("adam_epsilon")] public double AdamEpsilon { get; init; } = 1e-8;
    /// <summary>Gradient-norm clipping threshold; 0 disables clipping (the norm is still reported).</summary>
    [JsonPropertyName("max_grad_norm")] public double MaxGradNorm { get; init; } = 1.0;
    /// <summary>Recompute each block's activations in backward instead of storing them (models that support it).</summary>
    [JsonPropertyName("gradient_checkpointing")] public bool GradientCheckpointing { get; init; }
    /// <summary>float32 or bfloat16 weights; with bfloat16 the optimiser keeps fp32 master weights and moments.</summary>
    [JsonPropertyName("dtype")] public string Dtype { get; init; } = "float32";
    [JsonPropertyName("seed")] public int Seed { get; init; } = 42;
    /// <summary>Checkpoint every N optimiser steps (0: only at the end).</summary>
    [JsonPropertyName("save_steps")] public int SaveSteps { get; init; }
    /// <summary>Checkpoints kept on disk (oldest deleted first); the final model is always kept.</summary>
    [JsonPropertyName("save_total_limit")] public int SaveTotalLimit { get; init; } = 2;
    /// <summary>Evaluate on the held-out pairs every N optimiser steps (0: only at the end).</summary>
    [JsonPropertyName("eval_steps")] public int EvalSteps { get; init; }
    /// <summary>Fraction of the pairs held out for evaluation (0: no evaluation).</summary>
    [JsonPropertyName("eval_fraction")] public double EvalFraction { get; init; }
    /// <summary>Use the shared-prefix layout (one row per pair); false runs chosen and rejected as two full rows.</summary>
    [JsonPropertyName("shared_prefix")] public bool SharedPrefix { get; init; } = true;
    /// <summary>LoRA adapters instead of full fine-tuning; null trains all weights.</summary>
    [JsonPropertyName("lora")] public LoraOptions? Lora { get; init; }

    public int GlobalBatchSize => MicroBatchSize * GradientAccumulationSteps;

    /// <summary>Each loss with its weight (1 when <see cref="LossWeights"/> is empty). Call after <see cref="Validate"/>.</summary>
    public IReadOnlyList<(DpoLossType Type, double Weight)> WeightedLosses =>
        Loss.Select((name, i) => (DpoLoss.Parse(name)!.Value, LossWeights.Count == 0 ? 1.0 : LossWeights[i])).ToList();

    /// <summary>Throws a <see cref="StepDpoException"/> naming the first bad key. <paramref name="source"/> names the
    /// manifest (file and block) the options came from, so the message points at it.</summary>
    public TrainOptions Validate(string source = "train options")
    {
        void Fail(string key, object value, string rule) =>
            throw new StepDpoException($"{source}: key '{key}' = {value}: {rule}");
        if (!(Beta > 0) || double.IsInfinity(Beta)) Fail("beta", Beta, "must be a positive number");
        foreach (var name in Loss)
            if (DpoLoss.Parse(name) is null)
                Fail("loss", name, $"is not a loss type{(ManifestBinder.Suggest(name, TrainLosses.Names) is { } hint ? $"; did you mean '{hint}'?" : "")} " +
                                   $"(one of {string.Join(", ", TrainLosses.Names)})");
        if (!(LabelSmoothing >= 0 && LabelSmoothing <= 0.5)) Fail("label_smoothing", LabelSmoothing, "must be in [0, 0.5]");
        foreach (var problem in TrainLosses.Problems(Loss, LossWeights, LabelSmoothing))
            throw new StepDpoException($"{source}: {problem.Keys[0]}: {problem.Text}");
        if (!(DiscopopTau > 0) || double.IsInfinity(DiscopopTau)) Fail("discopop_tau", DiscopopTau, "must be a positive number");
        if (!(LearningRate > 0)) Fail("learning_rate", LearningRate, "must be > 0");
        if (LrSchedule.Parse(LrScheduler) is null) Fail("lr_scheduler", LrScheduler, "must be cosine, linear or constant");
        if (!(WarmupRatio >= 0 && WarmupRatio <= 1)) Fail("warmup_ratio", WarmupRatio, "must be in [0, 1]");
        if (Epochs < 1) Fail("epochs", Epochs, "must be >= 1");
        if (MicroBatchSize < 1) Fail("micro_batch_size", MicroBatchSize, "must be >= 1");
        if (GradientAccumulationSteps < 1) Fail("gradient_accumulation_steps", GradientAccumulationSteps, "must be >= 1");
        if (MaxLength < 2) Fail("max_length", MaxLength, "must be >= 2");
        if (MaxPromptLength < 1 || MaxPromptLength >= MaxLength)
            Fail("max_prompt_length", MaxPromptLength, $"must be >= 1 and < max_length ({MaxLength})");
        if (!(WeightDecay >= 0)) Fail("weight_decay", WeightDecay, "must be >= 0");
        if (!(AdamBeta1 >= 0 && AdamBeta1 < 1)) Fail("adam_beta1", AdamBeta1, "must be in [0, 1)");
        if (!(AdamBeta2 >= 0 && AdamBeta2 < 1)) Fail("adam_beta2", AdamBeta2, "must be in [0, 1)");
        if (!(AdamEpsilon > 0)) Fail("adam_epsilon", AdamEpsilon, "must be > 0");
        if (!(MaxGradNorm >= 0)) Fail("max_grad_norm", MaxGradNorm, "must be >= 0");
        if (TrainDtype.Parse(Dtype) is null) Fail("dtype", Dtype, "must be float32 or bfloat16");
        if (SaveSteps < 0) Fail("save_steps", SaveSteps, "must be >= 0");
        if (SaveTotalLimit < 1) Fail("save_total_limit", SaveTotalLimit, "must be >= 1");
        if (EvalSteps < 0) Fail("eval_steps", EvalSteps, "must be >= 0");
        if (!(EvalFraction >= 0 && EvalFraction < 1)) Fail("eval_fraction", EvalFraction, "must be in [0, 1)");
        Lora?.Validate(source);
        return this;
    }
}

/// <summary>LoRA: W x + (alpha / rank) B A x on the named linear layers, A random, B zero, base weights frozen.</summary>
public sealed record LoraOptions
{
    [JsonPropertyName("rank")] public int Rank { get; init; } = 8;
    [JsonPropertyName("alpha")] public double Alpha { get; init; } = 16;
    /// <summary>Last component of the module names to adapt (q_proj matches layers.3.self_attn.q_proj).</summary>
    [JsonPropertyName("target_modules")] public IReadOnlyList<string> TargetModules { get; init; } = ["q_proj", "k_proj", "v_proj", "o_proj"];

    public double Scale => Alpha / Rank;

    public void Validate(string source)
    {
        if (Rank < 1) throw new StepDpoException($"{source}: key 'lora.rank' = {Rank}: must be >= 1");
        if (!(Alpha > 0)) throw new StepDpoException($"{source}: key 'lora.alpha' = {Alpha}: must be > 0");
        if (TargetModules.Count == 0) throw new StepDpoException($"{source}: key 'lora.target_modules': must name at least one module");
    }
}

/// <summary>The weight dtypes training supports.</summary>
public static class TrainDtype
{
    public static TorchSharp.torch.ScalarType? Parse(string name) => name.ToLowerInvariant() switch
    {
        "float32" or "fp32" => TorchSharp.torch.ScalarType.Float32,
        "bfloat16" or "bf16" => TorchSharp.torch.ScalarType.BFloat16,
        _ => null,
    };
}
