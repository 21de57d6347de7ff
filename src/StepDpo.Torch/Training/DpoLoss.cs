using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace StepDpo.Torch.Training;

public enum DpoLossType { Sigmoid, Ipo, Hinge, Robust }

/// <summary>Per-pair losses and the implicit rewards beta * (log pi - log ref) (detached), each [pairs].</summary>
public sealed record DpoLossOutput(Tensor Losses, Tensor ChosenRewards, Tensor RejectedRewards) : IDisposable
{
    public void Dispose() { Losses.Dispose(); ChosenRewards.Dispose(); RejectedRewards.Dispose(); }
}

/// <summary>
/// The preference losses with TRL's formulas. With h = (log pi_c - log pi_r) - (log ref_c - log ref_r) and eps the
/// label smoothing:
/// sigmoid: -(1-eps) log s(beta h) - eps log s(-beta h)  (DPO; Step-DPO when the completions are single steps);
/// robust:  (-(1-eps) log s(beta h) + eps log s(-beta h)) / (1 - 2 eps);
/// hinge:   relu(1 - beta h);
/// ipo:     (h - 1/(2 beta))^2, where the caller passes length-averaged log-probs (TRL averages them for ipo).
/// </summary>
public static class DpoLoss
{
    public static readonly IReadOnlyList<string> Names = ["sigmoid", "ipo", "hinge", "robust"];

    public static DpoLossType? Parse(string name) => name.ToLowerInvariant() switch
    {
        "sigmoid" => DpoLossType.Sigmoid,
        "ipo" => DpoLossType.Ipo,
        "hinge" => DpoLossType.Hinge,
        "robust" => DpoLossType.Robust,
        _ => null,
    };

    /// <summary>Whether the loss wants log-probs averaged over completion tokens instead of summed.</summary>
    public static bool UsesAverageLogProbs(DpoLossType type) => type == DpoLossType.Ipo;

    public static DpoLossOutput Compute(DpoLossType type, double beta, double labelSmoothing,
        Tensor policyChosen, Tensor policyRejected, Tensor refChosen, Tensor refRejected)
    {
        using var scope = NewDisposeScope();
        var h = (policyChosen - policyRejected) - (refChosen - refRejected);
        Tensor losses = type switch
        {
            DpoLossType.Sigmoid => -F.logsigmoid(beta * h) * (1 - labelSmoothing) - F.logsigmoid(-beta * h) * labelSmoothing,
            DpoLossType.Robust => (-F.logsigmoid(beta * h) * (1 - labelSmoothing) + F.logsigmoid(-beta * h) * labelSmoothing)
                                  / (1 - 2 * labelSmoothing),
            DpoLossType.Hinge => F.relu(1 - beta * h),
            DpoLossType.Ipo => (h - 1 / (2 * beta)).pow(2),
            _ => throw new ArgumentOutOfRangeException(nameof(type)),
        };
        var chosenRewards = (beta * (policyChosen - refChosen)).detach();
        var rejectedRewards = (beta * (policyRejected - refRejected)).detach();
        return new DpoLossOutput(losses.MoveToOuterDisposeScope(), chosenRewards.MoveToOuterDisposeScope(),
            rejectedRewards.MoveToOuterDisposeScope());
    }
}
