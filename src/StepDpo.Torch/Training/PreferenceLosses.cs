using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace StepDpo.Torch.Training;

/// <summary>
/// What every preference loss is computed from, for a micro-batch of pairs (x, y+, y-), each [pairs]: the summed
/// completion log-probs log pi(y|x) of the policy and log ref(y|x) of the reference, and the completion lengths |y|
/// (float, for the length-normalised losses and the token-mean NLL).
/// </summary>
public sealed record PairLogps(Tensor Chosen, Tensor Rejected, Tensor RefChosen, Tensor RefRejected, Tensor ChosenTokens, Tensor RejectedTokens)
{
    /// <summary>log pi(y+|x) - log ref(y+|x): the chosen completion's implicit reward, divided by beta.</summary>
    public Tensor ChosenLogratios => Chosen - RefChosen;
    public Tensor RejectedLogratios => Rejected - RefRejected;
    /// <summary>h = r+ - r-, DPO's reward margin divided by beta, summed as (log pi(y+) - log pi(y-)) - (log ref(y+) -
    /// log ref(y-)) (the same number; this order keeps runs of the earlier trainer bit for bit).</summary>
    public Tensor Margin => (Chosen - Rejected) - (RefChosen - RefRejected);
    /// <summary>h with each log-ratio divided by its completion's length (IPO's and SimPO's per-token margin).</summary>
    public Tensor MeanMargin => ChosenLogratios / ChosenTokens.clamp_min(1) - RejectedLogratios / RejectedTokens.clamp_min(1);
}

/// <summary>
/// TRL DPOTrainer's preference losses (TRL 1.9), one per pair, each as its paper writes it. Notation: sigma the
/// logistic function, beta the temperature, eps the label smoothing, r+ = log pi(y+)/ref(y+) and r- = log pi(y-)/ref(y-)
/// the log-ratios of the chosen and rejected completions, h = r+ - r- (<see cref="PairLogps.Margin"/>), and h̄ the same with
/// each log-ratio divided by its completion length (<see cref="PairLogps.MeanMargin"/>). Each is a loss per pair (sft:
/// one for the micro-batch); the caller averages over the pairs and weights the terms (<see cref="DpoLoss"/>).
/// </summary>
public static class PreferenceLosses
{
    public static Tensor Loss(DpoLossType type, PairLogps p, LossSettings s) => type switch
    {
        DpoLossType.Sigmoid => Sigmoid(p, s.Beta),
        DpoLossType.Hinge => Hinge(p, s.Beta),
        DpoLossType.Ipo => Ipo(p, s.Beta),
        DpoLossType.ExoPair => ExoPair(p, s.Beta, s.LabelSmoothing),
        DpoLossType.NcaPair => NcaPair(p, s.Beta),
        DpoLossType.Robust => Robust(p, s.Beta, s.LabelSmoothing),
        DpoLossType.BcoPair => BcoPair(p, s.Beta),
        DpoLossType.SppoHard => SppoHard(p, s.Beta),
        DpoLossType.Aot => Aot(p, s.Beta, s.LabelSmoothing),
        DpoLossType.AotUnpaired => AotUnpaired(p, s.Beta, s.LabelSmoothing),
        DpoLossType.ApoZero => ApoZero(p, s.Beta),
        DpoLossType.ApoDown => ApoDown(p, s.Beta),
        DpoLossType.Discopop => Discopop(p, s.Beta, s.DiscopopTau),
        DpoLossType.Sft => Sft(p),
        DpoLossType.SigmoidNorm => SigmoidNorm(p, s.Beta),
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };

    /// <summary>DPO (Rafailov et al. 2023, "Direct Preference Optimization: Your Language Model is Secretly a Reward
    /// Model", eq. 7): -log sigma(beta h).</summary>
    public static Tensor Sigmoid(PairLogps p, double beta) => -F.logsigmoid(beta * p.Margin);

    /// <summary>SLiC's hinge on the normalised likelihood (Zhao et al. 2023, "SLiC-HF"; as used by RSO, Liu et al. 2023):
    /// max(0, 1 - beta h); beta is the reciprocal of the margin.</summary>
    public static Tensor Hinge(PairLogps p, double beta) => F.relu(1 - beta * p.Margin);

    /// <summary>IPO (Azar et al. 2023, "A General Theoretical Paradigm to Understand Learning from Human Preferences",
    /// eq. 17): (h̄ - 1/(2 tau))^2 with tau = beta, on length-averaged log-ratios as TRL uses it (confirmed with the
    /// authors, per TRL).</summary>
    public static Tensor Ipo(PairLogps p, double beta) => (p.MeanMargin - 1 / (2 * beta)).pow(2);

    /// <summary>EXO, pairwise (Ji et al. 2024, "Towards Efficient Exact Optimization of Language Model Alignment", eq. 16):
    /// KL(q || p) between the policy's preference q = (sigma(beta h), sigma(-beta h)) and the smoothed label
    /// p = (1 - eps, eps): q+ (log q+ - log(1 - eps)) + q- (log q- - log eps). Needs eps > 0.</summary>
    public static Tensor ExoPair(PairLogps p, double beta, double eps)
    {
        var z = beta * p.Margin;
        return F.sigmoid(z) * (F.logsigmoid(z) - Math.Log(1 - eps)) + F.sigmoid(-z) * (F.logsigmoid(-z) - Math.Log(eps));
    }

    /// <summary>NCA (Chen et al. 2024, "Noise Contrastive Alignment of Language Models with Explicit Rewards"), for a pair:
    /// -log sigma(beta r+) - 1/2 log sigma(-beta r+) - 1/2 log sigma(-beta r-): it moves each completion's own likelihood,
    /// not only their difference.</summary>
    public static Tensor NcaPair(PairLogps p, double beta)
    {
        var chosen = beta * p.ChosenLogratios;
        return -F.logsigmoid(chosen) - 0.5 * F.logsigmoid(-chosen) - 0.5 * F.logsigmoid(-beta * p.RejectedLogratios);
    }

    /// <summary>Robust DPO (Chowdhury et al. 2024, "Provably Robust DPO: Aligning Language Models with Noisy Feedback"),
    /// unbiased when a label is flipped with probability eps:
    /// ((1 - eps)(-log sigma(beta h)) - eps(-log sigma(-beta h))) / (1 - 2 eps).</summary>
    public static Tensor Robust(PairLogps p, double beta, double eps)
    {
        var z = beta * p.Margin;
        return (-(1 - eps) * F.logsigmoid(z) + eps * F.logsigmoid(-z)) / (1 - 2 * eps);
    }

    /// <summary>BCO on pairs (Jung et al. 2024, "Binary Classifier Optimization for Large Language Model Alignment"): a binary
    /// classifier with logit beta r, chosen -> 1 and rejected -> 0: -log sigma(beta r+) - log sigma(-beta r-). TRL 1.x
    /// dropped the paper's reward shift delta (a running mean of the rewards); so does this.</summary>
    public static Tensor BcoPair(PairLogps p, double beta) =>
        -F.logsigmoid(beta * p.ChosenLogratios) - F.logsigmoid(-beta * p.RejectedLogratios);

    /// <summary>SPPO with hard probabilities (Wu et al. 2024, "Self-Play Preference Optimization for Language Model
    /// Alignment", eq. 4.7 with P = 1 for the winner, 0 for the loser): (r+ - 1/(2 beta))^2 + (r- + 1/(2 beta))^2.</summary>
    public static Tensor SppoHard(PairLogps p, double beta) =>
        (p.ChosenLogratios - 0.5 / beta).pow(2) + (p.RejectedLogratios + 0.5 / beta).pow(2);

    /// <summary>AOT, paired (Melnyk et al. 2024, "Distributional Preference Alignment of LLMs via Optimal Transport"):
    /// stochastic dominance of the policy's log-likelihood ratios log pi(y+)/pi(y-) over the reference's, by matching
    /// their sorted values across the micro-batch (its 1-D optimal transport plan): with u = sort(log pi(y+) - log pi(y-))
    /// and v = sort(log ref(y+) - log ref(y-)), the smoothed logistic loss of beta (u - v). It couples the pairs of a
    /// micro-batch: a larger micro-batch gives a finer quantile match; with one pair it is DPO.</summary>
    public static Tensor Aot(PairLogps p, double beta, double eps) =>
        SmoothedLogistic(beta * (Sorted(p.Chosen - p.Rejected) - Sorted(p.RefChosen - p.RefRejected)), eps);

    /// <summary>AOT, unpaired (same paper): the chosen log-ratios r+ dominate the rejected r- as distributions:
    /// the smoothed logistic loss of beta (sort(r+) - sort(r-)) across the micro-batch.</summary>
    public static Tensor AotUnpaired(PairLogps p, double beta, double eps) =>
        SmoothedLogistic(beta * (Sorted(p.ChosenLogratios) - Sorted(p.RejectedLogratios)), eps);

    /// <summary>APO-zero (D'Oosterlinck et al. 2024, "Anchored Preference Optimization and Contrastive Revisions", eq. 7),
    /// for a chosen completion better than the model's own: raise r+ and lower r- in absolute terms:
    /// (1 - sigma(beta r+)) + sigma(beta r-).</summary>
    public static Tensor ApoZero(PairLogps p, double beta) =>
        1 - F.sigmoid(beta * p.ChosenLogratios) + F.sigmoid(beta * p.RejectedLogratios);

    /// <summary>APO-down (same paper, eq. 8), for a chosen completion worse than the model's own: lower both, the rejected
    /// more: sigma(beta r+) + (1 - sigma(beta h)).</summary>
    public static Tensor ApoDown(PairLogps p, double beta) =>
        F.sigmoid(beta * p.ChosenLogratios) + 1 - F.sigmoid(beta * p.Margin);

    /// <summary>DiscoPOP, the log-ratio modulated loss (Lu et al. 2024, "Discovering Preference Optimization Algorithms
    /// with and for Large Language Models", eq. 5): with z = beta h and w = sigma(z / tau), (1 - w)(-log sigma(z)) + w e^(-z),
    /// a blend of the logistic (DPO) and exponential losses steered by the margin itself.</summary>
    public static Tensor Discopop(PairLogps p, double beta, double tau)
    {
        var z = beta * p.Margin;
        var w = F.sigmoid(z / tau);
        return (1 - w) * -F.logsigmoid(z) + w * (-z).exp();
    }

    /// <summary>SFT: the negative log-likelihood of the chosen completions, averaged over all their tokens in the
    /// micro-batch (cross-entropy, as TRL computes it), -sum log pi(y+) / sum |y+|: one value for the micro-batch, a
    /// scalar (TRL copies it to every pair; their mean is the same). With sigmoid it is RPO (Pang et al. 2024, "Iterative
    /// Reasoning Preference Optimization", which divides by each completion's length; TRL, and so this, averages over the
    /// micro-batch's tokens).</summary>
    public static Tensor Sft(PairLogps p) => -p.Chosen.sum() / p.ChosenTokens.sum().clamp_min(1);

    /// <summary>Length-normalised DPO, SimPO's normalisation (Meng et al. 2024, "SimPO: Simple Preference Optimization with
    /// a Reference-Free Reward") kept with the reference: -log sigma(beta h̄).</summary>
    public static Tensor SigmoidNorm(PairLogps p, double beta) => -F.logsigmoid(beta * p.MeanMargin);

    /// <summary>-(1 - eps) log sigma(z) - eps log sigma(-z): the logistic loss when a label is wrong with probability eps.</summary>
    static Tensor SmoothedLogistic(Tensor z, double eps) => -(1 - eps) * F.logsigmoid(z) - eps * F.logsigmoid(-z);

    static Tensor Sorted(Tensor values) => values.sort(0).Values;
}
