namespace StepDpo.Torch.Training;

public enum LrScheduleType { Cosine, Linear, Constant }

/// <summary>
/// Learning rate as a function of the optimiser step, as Hugging Face's schedulers compute it (the rate used for step s,
/// counted from 0): linear warmup s / w over the first w = ceil(warmup_ratio * total) steps, then cosine
/// 0.5 (1 + cos(pi p)) or linear (1 - p) decay to 0, or constant, with p = (s - w) / (total - w).
/// </summary>
public sealed class LrSchedule(LrScheduleType type, double peak, int totalSteps, double warmupRatio)
{
    public int WarmupSteps { get; } = (int)Math.Ceiling(totalSteps * warmupRatio);
    public int TotalSteps => totalSteps;

    public static LrScheduleType? Parse(string name) => name.ToLowerInvariant() switch
    {
        "cosine" => LrScheduleType.Cosine,
        "linear" => LrScheduleType.Linear,
        "constant" or "constant_with_warmup" => LrScheduleType.Constant,
        _ => null,
    };

    public static LrSchedule From(TrainOptions o, int totalSteps) =>
        new(Parse(o.LrScheduler) ?? throw new ArgumentException(o.LrScheduler), o.LearningRate, totalSteps, o.WarmupRatio);

    public double At(int step)
    {
        if (step < WarmupSteps) return peak * step / Math.Max(1, WarmupSteps);
        double progress = (double)(step - WarmupSteps) / Math.Max(1, totalSteps - WarmupSteps);
        return type switch
        {
            LrScheduleType.Cosine => peak * Math.Max(0, 0.5 * (1 + Math.Cos(Math.PI * progress))),
            LrScheduleType.Linear => peak * Math.Max(0, 1 - progress),
            _ => peak,
        };
    }
}
