using static TorchSharp.torch;

namespace StepDpo.Torch.Training;

/// <summary>Implemented by models whose blocks can run under <see cref="ActivationCheckpoint"/>; the trainer switches it
/// on when `gradient_checkpointing` is set.</summary>
public interface IGradientCheckpointable
{
    bool GradientCheckpointing { get; set; }
}

/// <summary>
/// Activation checkpointing on a custom autograd function (TorchSharp has none built in). Forward runs the block without
/// recording a graph and keeps only its input; backward re-runs the block with autograd on and back-propagates the
/// incoming gradient through that fresh graph, which also accumulates the block's parameter gradients. Memory per block
/// drops from all intermediate activations to one input tensor, for one extra block forward in backward.
/// The block must be deterministic (no dropout), which holds for the models trained here.
/// </summary>
public static class ActivationCheckpoint
{
    /// <summary>y = block(x, constants), storing only x. The constants (masks, rotary tables) get no gradient; they are
    /// passed in rather than captured so they stay alive until backward even when the caller's dispose scope ends.</summary>
    public static Tensor Apply(Func<Tensor, Tensor[], Tensor> block, Tensor x, params Tensor[] constants)
    {
        if (!is_grad_enabled() || !x.requires_grad) return block(x, constants);
        var kept = constants.Select(c => c.detach().DetachFromDisposeScope()).ToArray();
        return CheckpointFunction.apply(x, new Saved(block, kept));
    }

    sealed record Saved(Func<Tensor, Tensor[], Tensor> Block, Tensor[] Constants);

    sealed class CheckpointFunction : autograd.SingleTensorFunction<CheckpointFunction>
    {
        public override string Name => "ActivationCheckpoint";

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var x = (Tensor)vars[0];
            ctx.save_for_backward([x]);
            var saved = (Saved)vars[1];
            ctx.save_data("block", saved);
            return saved.Block(x, saved.Constants);
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
        {
            var x = ctx.get_saved_variables()[0];
            var saved = (Saved)ctx.get_data("block");
            using var scope = NewDisposeScope();
            using var grad = enable_grad();
            var input = x.detach().requires_grad_();
            var output = saved.Block(input, saved.Constants);
            autograd.backward([output], [gradOutput]);
            foreach (var c in saved.Constants) c.Dispose();
            return [input.grad!.MoveToOuterDisposeScope(), null!]; // one entry per argument of apply
        }
    }
}
