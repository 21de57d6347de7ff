using StepDpo.Core;

namespace StepDpo.Torch.Training.Trl;

/// <summary>
/// The training objective in TRL's terms: loss types, each with a weight, summed (train.loss with train.loss_weights,
/// which is TRL 1.x's `loss_type` list with `loss_weights`; RPO is [sigmoid, sft]). <see cref="Keys"/> writes it in
/// one dialect's keys.
/// </summary>
public sealed record TrlObjective(IReadOnlyList<string> LossTypes, IReadOnlyList<double> Weights, double DiscopopTau = 0.05)
{
    public static TrlObjective Of(TrainOptions o) =>
        new(o.Loss, o.WeightedLosses.Select(l => l.Weight).ToList(), o.DiscopopTau);

    /// <summary>TRL 0.8.5's DPOTrainer takes one preference loss of these; the RPO term is the shipped script's.</summary>
    static readonly string[] PaperLosses = ["sigmoid", "hinge", "ipo"];

    public IEnumerable<(string Key, object Value)> Keys(TrlDialect dialect)
    {
        if (LossTypes.Count != Weights.Count) throw new ArgumentException("one weight per loss type");
        if (dialect == TrlDialect.Current)
        {
            yield return ("loss_type", LossTypes.ToList());
            if (Weights.Any(w => w != 1)) yield return ("loss_weights", Weights.ToList());
            if (LossTypes.Contains("discopop")) yield return ("discopop_tau", DiscopopTau);
            yield break;
        }
        var preference = LossTypes.Where(t => t != "sft").ToList();
        if (preference.Count != 1 || !PaperLosses.Contains(preference[0]))
            throw new StepDpoException($"train.loss {string.Join(" + ", preference)}: TRL 0.8.5 trains one of " +
                $"{string.Join(", ", PaperLosses)}; set train.trl.version to {TrlDialect.Current.Version} for the others");
        if (Weights[LossTypes.ToList().IndexOf(preference[0])] != 1)
            throw new StepDpoException("TRL 0.8.5 weighs its preference loss 1; scale the sft term instead");
        yield return ("loss_type", preference[0]);
        int sft = LossTypes.ToList().IndexOf("sft");
        if (sft >= 0) yield return ("rpo_alpha", Weights[sft]);
    }
}
