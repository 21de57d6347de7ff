using System.Reflection;
using StepDpo.Core.Manifests;
using StepDpo.Torch.Training;
using static TorchSharp.torch;

namespace StepDpo.Torch.Tests.Training;

/// <summary>
/// Every TRL loss type against values worked out by hand from its paper / TRL's documented formula, on three pairs:
///   log pi(y+) = [-1, -4, -2.5]      log pi(y-) = [-2, -3, -6]        |y+| = [2, 5, 3]
///   log ref(y+) = [-1.5, -3.5, -3]   log ref(y-) = [-1.8, -4.4, -2.6]  |y-| = [4, 1, 6]
/// so r+ = [0.5, -0.5, 0.5], r- = [-0.2, 1.4, -3.4], h = r+ - r- = [0.7, -1.9, 3.9],
/// h̄ = r+/|y+| - r-/|y-| = [0.25 + 0.05, -0.1 - 1.4, 0.1667 + 0.5667] = [0.3, -1.5, 0.7333];
/// beta = 0.5, label smoothing eps = 0.1, discopop tau = 0.05. The loss is the mean over the three pairs.
/// With s(x) = -log sigma(x) = log(1 + e^-x): s(0.35) = 0.533382, s(-0.95) = 1.276956, s(1.95) = 0.133021.
/// </summary>
public class DpoLossTests
{
    static readonly LossSettings Settings = new(Beta: 0.5, LabelSmoothing: 0.1, DiscopopTau: 0.05);

    static PairLogps Fixture() => new(
        tensor(new[] { -1.0f, -4.0f, -2.5f }), tensor(new[] { -2.0f, -3.0f, -6.0f }),
        tensor(new[] { -1.5f, -3.5f, -3.0f }), tensor(new[] { -1.8f, -4.4f, -2.6f }),
        tensor(new[] { 2.0f, 5.0f, 3.0f }), tensor(new[] { 4.0f, 1.0f, 6.0f }));

    static double Loss(string name, LossSettings? settings = null, PairLogps? logps = null)
    {
        using var scope = NewDisposeScope();
        using var o = DpoLoss.Compute(DpoLoss.Parse(name)!.Value, settings ?? Settings, logps ?? Fixture());
        return o.Loss.item<float>();
    }

    static double S(double x) => Math.Log(1 + Math.Exp(-x));
    static double Sigma(double x) => 1 / (1 + Math.Exp(-x));

    // sigmoid (DPO): mean of s(beta h) = (0.533382 + 1.276956 + 0.133021) / 3 = 0.647787
    [Fact] public void Sigmoid() => Assert.Equal(0.647787, Loss("sigmoid"), 5);

    // hinge: max(0, 1 - beta h) = [0.65, 1.95, 0] -> 0.866667
    [Fact] public void Hinge() => Assert.Equal(0.866667, Loss("hinge"), 5);

    // ipo: (h̄ - 1/(2 beta))^2 = (h̄ - 1)^2 = [0.49, 6.25, 0.071111] -> 2.270370
    [Fact] public void Ipo() => Assert.Equal(2.270370, Loss("ipo"), 5);

    // exo_pair: q = sigma(beta h) = [0.586618, 0.278885, 0.875447]; per pair q (log q - log 0.9) + (1-q)(log(1-q) - log 0.1),
    // with log q = -s(beta h), log(1-q) = -s(-beta h), -log 0.9 = 0.105361, -log 0.1 = 2.302585:
    // [0.586618 (-0.428021) + 0.413382 (1.419203), 0.278885 (-1.171595) + 0.721115 (1.975629), 0.875447 (-0.027660) + 0.124553 (0.219564)]
    // = [0.335589, 1.097916, 0.003132] -> 0.478879
    [Fact] public void Exo_pair() => Assert.Equal(0.478879, Loss("exo_pair"), 5);

    // nca_pair: s(beta r+) + 0.5 s(-beta r+) + 0.5 s(-beta r-), beta r+ = [0.25, -0.25, 0.25], beta r- = [-0.1, 0.7, -1.7]:
    // pair 1: 0.575939 + 0.5 (0.825939) + 0.5 (0.644397) = 1.311107; pair 2: 0.825939 + 0.5 (0.575939) + 0.5 (1.103186) = 1.665502;
    // pair 3 as pair 1 but s(1.7) = 0.167786: 0.575939 + 0.412970 + 0.083893 = 1.072802 -> 1.349804
    [Fact] public void Nca_pair() => Assert.Equal(1.349804, Loss("nca_pair"), 5);

    // robust: ((1 - eps) s(beta h) - eps s(-beta h)) / (1 - 2 eps); s(-0.35) = 0.883382, s(0.95) = 0.326956, s(-1.95) = 2.083021:
    // [(0.9 (0.533382) - 0.1 (0.883382)) / 0.8, (0.9 (1.276956) - 0.1 (0.326956)) / 0.8, (0.9 (0.133021) - 0.1 (2.083021)) / 0.8]
    // = [0.489632, 1.395706, -0.110729] -> 0.591537
    [Fact] public void Robust() => Assert.Equal(0.591537, Loss("robust"), 5);

    // bco_pair: s(beta r+) + s(-beta r-) = [0.575939 + 0.644397, 0.825939 + 1.103186, 0.575939 + 0.167786]
    // = [1.220336, 1.929125, 0.743725] -> 1.297729
    [Fact] public void Bco_pair() => Assert.Equal(1.297729, Loss("bco_pair"), 5);

    // sppo_hard: (r+ - 1/(2 beta))^2 + (r- + 1/(2 beta))^2 = (r+ - 1)^2 + (r- + 1)^2 = [0.25 + 0.64, 2.25 + 5.76, 0.25 + 5.76] -> 4.97
    [Fact] public void Sppo_hard() => Assert.Equal(4.97, Loss("sppo_hard"), 4);

    // aot: policy log pi(y+) - log pi(y-) = [1, -1, 3.5] sorted [-1, 1, 3.5]; reference [0.3, 0.9, -0.4] sorted
    // [-0.4, 0.3, 0.9]; quantile differences [-0.6, 0.7, 2.6] (not h: sorting re-pairs them); smoothed logistic
    // 0.9 s(beta d) + 0.1 s(-beta d) = [0.9 (0.854355) + 0.1 (0.554355), 0.9 (0.533382) + 0.1 (0.883382),
    // 0.9 (0.241008) + 0.1 (1.541008)] = [0.824355, 0.568382, 0.371008] -> 0.587915
    [Fact] public void Aot() => Assert.Equal(0.587915, Loss("aot"), 5);

    // aot_unpaired: sort(r+) = [-0.5, 0.5, 0.5], sort(r-) = [-3.4, -0.2, 1.4], differences [2.9, 0.7, -0.9]:
    // 0.9 s(beta d) + 0.1 s(-beta d) = [0.9 (0.210723) + 0.1 (1.660723), 0.9 (0.533382) + 0.1 (0.883382),
    // 0.9 (0.943249) + 0.1 (0.493249)] = [0.355723, 0.568382, 0.898249] -> 0.607451
    [Fact] public void Aot_unpaired() => Assert.Equal(0.607451, Loss("aot_unpaired"), 5);

    // apo_zero: 1 - sigma(beta r+) + sigma(beta r-) = [1 - 0.562177 + 0.475021, 1 - 0.437823 + 0.668188,
    // 1 - 0.562177 + 0.154465] = [0.912844, 1.230364, 0.592289] -> 0.911832
    [Fact] public void Apo_zero() => Assert.Equal(0.911832, Loss("apo_zero"), 5);

    // apo_down: sigma(beta r+) + 1 - sigma(beta h) = [0.562177 + 1 - 0.586618, 0.437823 + 1 - 0.278885, 0.562177 + 1 - 0.875491]
    // = [0.975559, 1.158939, 0.686730] -> 0.940409
    [Fact] public void Apo_down() => Assert.Equal(0.940409, Loss("apo_down"), 5);

    // discopop: z = beta h = [0.35, -0.95, 1.95], w = sigma(z / 0.05) = sigma([7, -19, 39]) = [0.999089, 5.6e-9, 1];
    // (1 - w) s(z) + w e^-z = [0.000911 (0.533382) + 0.999089 (0.704688), 1.276956, 0.142274] = [0.704532, 1.276956, 0.142274]
    // -> 0.707921
    [Fact] public void Discopop() => Assert.Equal(0.707921, Loss("discopop"), 5);

    // sft: token-mean NLL of the chosen completions = -(-1 - 4 - 2.5) / (2 + 5 + 3) = 0.75 (every pair gets the batch value)
    [Fact] public void Sft() => Assert.Equal(0.75, Loss("sft"), 6);

    // sigmoid_norm: s(beta h̄) = [s(0.15), s(-0.75), s(0.366667)] = [0.620957, 1.136871, 0.526526] -> 0.761451
    [Fact] public void Sigmoid_norm() => Assert.Equal(0.761451, Loss("sigmoid_norm"), 5);

    [Fact]
    public void The_hand_values_agree_with_the_formulas_in_double_precision()
    {
        // The comments' arithmetic, redone in doubles from the formulas (no tensors), for the losses with the most steps.
        double[] h = [0.7, -1.9, 3.9], rp = [0.5, -0.5, 0.5], rm = [-0.2, 1.4, -3.4];
        double Mean(Func<int, double> f) => Enumerable.Range(0, 3).Select(f).Average();
        Assert.Equal(0.647787, Mean(i => S(0.5 * h[i])), 6);
        Assert.Equal(0.478879, Mean(i =>
        {
            double z = 0.5 * h[i], q = Sigma(z);
            return q * (-S(z) - Math.Log(0.9)) + (1 - q) * (-S(-z) - Math.Log(0.1));
        }), 6);
        Assert.Equal(1.349804, Mean(i => S(0.5 * rp[i]) + 0.5 * S(-0.5 * rp[i]) + 0.5 * S(-0.5 * rm[i])), 6);
        double[] d = [-0.6, 0.7, 2.6];
        Assert.Equal(0.587915, Mean(i => 0.9 * S(0.5 * d[i]) + 0.1 * S(-0.5 * d[i])), 6);
        double[] du = [2.9, 0.7, -0.9];
        Assert.Equal(0.607451, Mean(i => 0.9 * S(0.5 * du[i]) + 0.1 * S(-0.5 * du[i])), 6);
        Assert.Equal(0.707921, Mean(i =>
        {
            double z = 0.5 * h[i], w = Sigma(z / 0.05);
            return (1 - w) * S(z) + w * Math.Exp(-z);
        }), 6);
    }

    [Fact]
    public void Losses_combine_as_a_weighted_sum_of_means_and_rewards_are_beta_times_the_log_ratios()
    {
        using var scope = NewDisposeScope();
        // RPO as TRL 1.x writes it: [sigmoid, sft] with weights [1, 0.5] -> 0.647787 + 0.5 (0.75)
        using var o = DpoLoss.Compute([(DpoLossType.Sigmoid, 1.0), (DpoLossType.Sft, 0.5)], Settings, Fixture());
        Assert.Equal(0.647787 + 0.375, o.Loss.item<float>(), 5);
        Assert.Equal(new[] { 0.25f, -0.25f, 0.25f }, o.ChosenRewards.data<float>().ToArray());
        Assert.Equal(new[] { -0.1f, 0.7f, -1.7f }, o.RejectedRewards.data<float>().ToArray().Select(v => MathF.Round(v, 5)));
        Assert.False(o.ChosenRewards.requires_grad);
    }

    [Fact]
    public void Aot_couples_the_pairs_of_a_micro_batch_and_on_one_pair_is_the_smoothed_logistic_loss()
    {
        using var scope = NewDisposeScope();
        // Pair 1 alone: h = 0.7, 0.9 s(0.35) + 0.1 s(-0.35) = 0.9 (0.533382) + 0.1 (0.883382) = 0.568382
        var one = new PairLogps(tensor(new[] { -1.0f }), tensor(new[] { -2.0f }), tensor(new[] { -1.5f }), tensor(new[] { -1.8f }),
            tensor(new[] { 2.0f }), tensor(new[] { 4.0f }));
        Assert.Equal(0.568382, Loss("aot", logps: one), 5);
        // In the batch, the same pairs give another loss than the pair-by-pair mean (0.9 s + 0.1 s of h = 0.7, -1.9, 3.9).
        double pairwise = new[] { 0.7, -1.9, 3.9 }.Average(x => 0.9 * S(0.5 * x) + 0.1 * S(-0.5 * x));
        Assert.NotEqual(pairwise, Loss("aot"), 3);
    }

    [Fact]
    public void Every_loss_has_a_gradient_on_the_policy_log_probs()
    {
        foreach (var name in TrainLosses.Names)
        {
            using var scope = NewDisposeScope();
            var pc = tensor(new[] { -1.0f, -4.0f, -2.5f }).requires_grad_();
            var pr = tensor(new[] { -2.0f, -3.0f, -6.0f }).requires_grad_();
            var p = Fixture() with { Chosen = pc, Rejected = pr };
            using var o = DpoLoss.Compute(DpoLoss.Parse(name)!.Value, Settings, p);
            o.Loss.backward();
            var g = pc.grad!.abs().sum().item<float>() + (name == "sft" ? 0 : pr.grad!.abs().sum().item<float>());
            Assert.True(float.IsFinite(g) && g > 0, $"{name}: gradient {g}");
        }
    }

    [Fact]
    public void Names_are_TRL_s_and_the_manifest_accepts_exactly_them()
    {
        Assert.Equal(TrainLosses.Names, Enum.GetValues<DpoLossType>().Select(DpoLoss.Name));
        Assert.Equal(TrainLosses.Names, Enum.GetNames<DpoLossType>().Select(ManifestBinder.SnakeCase));
        var oneOf = typeof(TrainSection).GetProperty(nameof(TrainSection.Loss))!.GetCustomAttribute<OneOfAttribute>()!;
        Assert.Equal(TrainLosses.Names, oneOf.Values);
        Assert.Null(DpoLoss.Parse("kto"));
        Assert.Equal(DpoLossType.AotUnpaired, DpoLoss.Parse("AOT_UNPAIRED"));
    }
}
