using StepDpo.Core.Manifests;
using static TorchSharp.torch;

namespace StepDpo.Torch.Training;

/// <summary>TRL DPOTrainer's loss types (TRL 1.9); the formulas are in <see cref="PreferenceLosses"/>.</summary>
public enum DpoLossType
{
    Sigmoid, Hinge, Ipo, ExoPair, NcaPair, Robust, BcoPair, SppoHard, Aot, AotUnpaired, ApoZero, ApoDown, Discopop, Sft, SigmoidNorm,
}

/// <summary>The knobs the losses read: beta, label smoothing (robust, exo_pair, aot, aot_unpaired) and discopop's tau.</summary>
public sealed record LossSettings(double Beta, double LabelSmoothing = 0, double DiscopopTau = 0.05);

/// <summary>The weighted loss of a micro-batch (a scalar) and the implicit rewards beta * (log pi - log ref) of its
/// completions (detached, each [pairs]), which TRL logs whatever the loss.</summary>
public sealed record DpoLossOutput(Tensor Loss, Tensor ChosenRewards, Tensor RejectedRewards) : IDisposable
{
    public void Dispose() { Loss.Dispose(); ChosenRewards.Dispose(); RejectedRewards.Dispose(); }
}

/// <summary>
/// A list of preference losses combined as TRL combines them: loss = sum over types of weight * mean over the pairs of
/// the micro-batch. [sigmoid] is DPO, Step-DPO when the completions are single steps; [sigmoid, sft] with weights
/// [1, alpha] is RPO (TRL 1.x dropped rpo_alpha for this).
/// </summary>
public static class DpoLoss
{
    /// <summary>The snake_case name (as in manifests and TRL) of a loss type, and back.</summary>
    public static string Name(DpoLossType type) => TrainLosses.Names[(int)type];

    public static DpoLossType? Parse(string name)
    {
        int i = TrainLosses.Names.ToList().IndexOf(name.ToLowerInvariant());
        return i < 0 ? null : (DpoLossType)i;
    }

    public static DpoLossOutput Compute(IReadOnlyList<(DpoLossType Type, double Weight)> losses, LossSettings settings, PairLogps logps)
    {
        if (losses.Count == 0) throw new ArgumentException("name at least one loss type", nameof(losses));
        using var scope = NewDisposeScope();
        Tensor? total = null;
        foreach (var (type, weight) in losses)
        {
            var term = PreferenceLosses.Loss(type, logps, settings).mean() * weight;
            total = total is null ? term : total + term;
        }
        var chosenRewards = (settings.Beta * logps.ChosenLogratios).detach();
        var rejectedRewards = (settings.Beta * logps.RejectedLogratios).detach();
        return new DpoLossOutput(total!.MoveToOuterDisposeScope(), chosenRewards.MoveToOuterDisposeScope(),
            rejectedRewards.MoveToOuterDisposeScope());
    }

    /// <summary>One loss type with weight 1.</summary>
    public static DpoLossOutput Compute(DpoLossType type, LossSettings settings, PairLogps logps) => Compute([(type, 1.0)], settings, logps);
}
