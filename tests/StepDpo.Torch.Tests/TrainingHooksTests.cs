using StepDpo.Torch.Checkpoints;
using static TorchSharp.torch;

namespace StepDpo.Torch.Tests;

/// <summary>What the trainer relies on: gradients reach every parameter through the masked forward.</summary>
public class TrainingHooksTests
{
    [Fact]
    public void Gradients_reach_every_parameter_through_a_masked_forward()
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
}
