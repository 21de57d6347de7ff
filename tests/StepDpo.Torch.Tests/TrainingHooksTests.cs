using StepDpo.Torch.Checkpoints;
using static TorchSharp.torch;

namespace StepDpo.Torch.Tests;

/// <summary>What the trainer relies on: gradients reach every parameter through the masked forward, and the
/// activation-checkpointing hook wraps each decoder layer as a pure function.</summary>
public class TrainingHooksTests
{
    [Fact]
    public void GradientsReachEveryParameterThroughAMaskedForward()
    {
        using var lm = Checkpoint.Load(Fixtures.Folder("llama-micro"));
        lm.Module.train();
        using var ids = Fixtures.Expected("llama-micro", "prefix.input_ids");
        using var positions = Fixtures.Expected("llama-micro", "prefix.position_ids");
        using var mask = Fixtures.Expected("llama-micro", "prefix.mask");
        using var boolMask = mask.to(ScalarType.Bool).unsqueeze(1);
        using var logits = lm.Forward(ids, positions, boolMask);
        using var loss = logits.log_softmax(-1).select(-1, 3).mean();
        loss.backward();
        foreach (var (name, p) in lm.named_parameters())
        {
            Assert.NotNull(p.grad);
            using var norm = p.grad!.abs().sum();
            Assert.True(norm.item<float>() > 0, $"{name} got no gradient");
        }
    }

    [Fact]
    public void CheckpointWrapperWrapsEachLayerAndGivesTheSameResult()
    {
        using var lm = Checkpoint.Load(Fixtures.Folder("qwen2-micro"));
        using var ids = Fixtures.Expected("qwen2-micro", "causal.input_ids");
        lm.Module.train();
        using var plain = lm.Forward(ids);
        int calls = 0;
        lm.GradientCheckpointing = true;
        lm.CheckpointWrapper = (layer, hidden) => { calls++; return layer(hidden); };
        using var wrapped = lm.Forward(ids);
        Assert.Equal(lm.Config.NumHiddenLayers, calls);
        Assert.Equal(0.0, Fixtures.MaxAbsDiff(plain, wrapped));
        // Not in eval mode: checkpointing only matters when there is a backward pass.
        lm.Module.eval();
        using var evaluated = lm.Forward(ids);
        Assert.Equal(lm.Config.NumHiddenLayers, calls);
    }
}
