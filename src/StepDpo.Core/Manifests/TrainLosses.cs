using System.Globalization;

namespace StepDpo.Core.Manifests;

/// <summary>
/// The rules a list of TRL loss types (`train.loss`) and its weights must follow, shared by the manifest and the
/// trainer's options, so a mistake is caught when the manifest is read, not when training starts. The formulas are in
/// StepDpo.Torch (Training/PreferenceLosses.cs); unknown names are reported by whoever parses the names.
/// </summary>
public static class TrainLosses
{
    /// <summary>TRL DPOTrainer's loss types (TRL 1.9), in the order its documentation lists them.</summary>
    public static readonly IReadOnlyList<string> Names =
    [
        "sigmoid", "hinge", "ipo", "exo_pair", "nca_pair", "robust", "bco_pair", "sppo_hard", "aot", "aot_unpaired",
        "apo_zero", "apo_down", "discopop", "sft", "sigmoid_norm",
    ];

    /// <summary>The losses that read label_smoothing (TRL 1.x's sigmoid does not: its cDPO smoothing moved to robust).</summary>
    public static readonly IReadOnlyList<string> UseLabelSmoothing = ["robust", "exo_pair", "aot", "aot_unpaired"];

    /// <summary>What is wrong with the combination, one violation each (keys relative to `train`); empty when it is fine.</summary>
    public static IEnumerable<Violation> Problems(IReadOnlyList<string> losses, IReadOnlyList<double> weights, double labelSmoothing)
    {
        string Num(double d) => d.ToString(CultureInfo.InvariantCulture);
        if (losses.Count == 0) yield return new("name at least one loss type, e.g. [sigmoid]", "loss");
        foreach (var twice in losses.GroupBy(l => l).Where(g => g.Count() > 1))
            yield return new($"'{twice.Key}' is listed {twice.Count()} times; list it once with the summed weight", "loss");
        if (weights.Count > 0 && weights.Count != losses.Count)
            yield return new($"{weights.Count} weights for {losses.Count} losses ([{string.Join(", ", losses)}]); " +
                             "give one weight per loss, or none for 1 each", "loss_weights");
        for (int i = 0; i < weights.Count; i++)
            if (!(weights[i] >= 0) || double.IsInfinity(weights[i]))
                yield return new($"{Num(weights[i])} must be a finite number >= 0", $"loss_weights[{i}]");
        if (losses.Contains("exo_pair") && !(labelSmoothing > 0))
            yield return new("exo_pair needs label_smoothing > 0 (its epsilon; the EXO paper recommends 1e-3)", "label_smoothing", "loss");
        if (labelSmoothing >= 0.5 && losses.Any(UseLabelSmoothing.Contains))
            yield return new($"{Num(labelSmoothing)} makes the loss ignore which step is chosen (robust divides by 1 - 2 label_smoothing): it must be below 0.5", "label_smoothing");
        if (labelSmoothing > 0 && !losses.Any(UseLabelSmoothing.Contains))
            yield return new($"{Num(labelSmoothing)} is read only by {string.Join(", ", UseLabelSmoothing)}, " +
                             "and none of them is in loss (TRL 1.x's sigmoid has no label smoothing)", "label_smoothing");
    }
}
