using StepDpo.Torch.Training;
using static TorchSharp.torch;

namespace StepDpo.Torch.Tests.Training;

public class DpoLossTests
{
    // h = (pc - pr) - (rc - rr) = (-1 + 2) - (-1.5 + 1.8) = 0.7; beta h = 0.35
    static double Loss(string type, double smoothing)
    {
        using var o = DpoLoss.Compute(DpoLoss.Parse(type)!.Value, 0.5, smoothing,
            tensor(new[] { -1.0f }), tensor(new[] { -2.0f }), tensor(new[] { -1.5f }), tensor(new[] { -1.8f }));
        Assert.Equal(0.25, o.ChosenRewards.item<float>(), 6);
        Assert.Equal(-0.1, o.RejectedRewards.item<float>(), 6);
        return o.Losses.item<float>();
    }

    static double Softplus(double x) => Math.Log(1 + Math.Exp(x));

    [Fact]
    public void Formulas_match_TRL()
    {
        Assert.Equal(Softplus(-0.35), Loss("sigmoid", 0), 6);
        Assert.Equal(0.9 * Softplus(-0.35) + 0.1 * Softplus(0.35), Loss("sigmoid", 0.1), 6);
        Assert.Equal((0.9 * Softplus(-0.35) - 0.1 * Softplus(0.35)) / 0.8, Loss("robust", 0.1), 6);
        Assert.Equal(0.65, Loss("hinge", 0), 6);
        Assert.Equal(Math.Pow(0.7 - 1, 2), Loss("ipo", 0), 6);
    }

    [Fact]
    public void Unknown_loss_is_rejected() => Assert.Null(DpoLoss.Parse("kto"));
}
