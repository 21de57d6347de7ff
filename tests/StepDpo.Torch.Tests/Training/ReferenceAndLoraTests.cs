using StepDpo.Core;
using StepDpo.Torch.Training;
using static TorchSharp.torch;

namespace StepDpo.Torch.Tests.Training;

public class ReferenceAndLoraTests
{
    [Fact]
    public void Reference_logprobs_are_computed_once_and_recomputed_when_the_key_changes()
    {
        using var dir = new TempDir();
        var model = new TinyCausalLM(seed: 12);
        var pairs = TestPairs.Random(5, prefix: 9, step: 4);
        string path = dir.Sub(ReferenceLogProbs.FileName);
        int loads = 0;
        ICausalLM Load() { loads++; return model; }

        var first = ReferenceLogProbs.ComputeOrLoad(Load, pairs, path, "tiny@1", "max_length=64", disposeReference: false);
        var again = ReferenceLogProbs.ComputeOrLoad(Load, pairs, path, "tiny@1", "max_length=64", disposeReference: false);
        Assert.Equal(1, loads);
        Assert.Equal(first.Chosen, again.Chosen);
        ReferenceLogProbs.ComputeOrLoad(Load, pairs, path, "tiny@1", "max_length=32", disposeReference: false);
        Assert.Equal(2, loads);

        // The cached values are the two-full-sequence log-probs of the reference model.
        using var batch = SharedPrefixBatch.Build(pairs, sharedPrefix: false);
        using var _ = no_grad();
        using var lp = SharedPrefixBatch.Forward(model, batch);
        var expected = lp.Chosen.data<float>().ToArray();
        for (int i = 0; i < pairs.Count; i++) Assert.Equal(expected[i], first.Chosen[i], 4);
        Assert.Equal(pairs.Select(p => p.Rejected.Length), first.RejectedTokens);
    }

    [Fact]
    public void A_damaged_cache_file_names_the_line()
    {
        using var dir = new TempDir();
        string path = dir.Sub("r.jsonl");
        File.WriteAllLines(path, ["""{"key":"k","count":2}""", """{"chosen":1,"rejected":2,"chosen_tokens":1,"rejected_tokens":1}""", "{oops"]);
        var e = Assert.Throws<StepDpoException>(() => ReferenceLogps.Load(path));
        Assert.StartsWith($"{path}: line 3:", e.Message);
    }

    sealed class OneLayer : TorchSharp.torch.nn.Module
    {
        public readonly TorchSharp.Modules.Linear q_proj = TorchSharp.torch.nn.Linear(6, 5);
        public OneLayer() : base("OneLayer") { RegisterComponents(); }
    }

    [Fact]
    public void Projected_gradients_are_the_exact_lora_gradients_and_the_weights_stay_merged()
    {
        TorchSharp.torch.random.manual_seed(3);
        var net = new OneLayer();
        using var x = randn(4, 6);
        var w0 = net.q_proj.weight!.detach().clone();
        using var lora = new LoraAdapters(net, new LoraOptions { Rank = 2, Alpha = 3, TargetModules = ["q_proj"] }, 1);
        var (a, b) = (lora.Parameters[0].Parameter, lora.Parameters[1].Parameter);
        using (no_grad()) b.add_(randn(5, 2) * 0.3);
        lora.Refresh();
        Assert.False(net.q_proj.bias!.requires_grad); // everything but the target matrix is frozen

        // Through the model (weight = W0 + 1.5 B A), then projected.
        net.q_proj.forward(x).pow(2).sum().backward();
        lora.ProjectGradients();
        // Explicitly, with autograd through A and B.
        var a2 = a.detach().clone().requires_grad_();
        var b2 = b.detach().clone().requires_grad_();
        var y = TorchSharp.torch.nn.functional.linear(x, w0 + b2.matmul(a2) * 1.5, net.q_proj.bias);
        y.pow(2).sum().backward();
        Assert.True(allclose(a.grad!, a2.grad!, 1e-5, 1e-5));
        Assert.True(allclose(b.grad!, b2.grad!, 1e-5, 1e-5));
        Assert.Null(net.q_proj.weight!.grad);

        lora.Merge();
        Assert.True(allclose(net.q_proj.weight!, w0 + b.matmul(a) * 1.5, 1e-6, 1e-6));
        Assert.True(net.q_proj.bias!.requires_grad);
    }

    [Fact]
    public void Lora_training_changes_only_the_target_layers()
    {
        using var dir = new TempDir();
        var model = new TinyCausalLM(seed: 14);
        var before = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.data<float>().ToArray());
        var opts = new TrainOptions { LearningRate = 1e-2, Epochs = 1, MicroBatchSize = 2, MaxLength = 64, MaxPromptLength = 32,
            Lora = new LoraOptions { Rank = 2, TargetModules = ["q_proj"] } };
        StepDpoTrainer.Train(model, TestPairs.Random(4, 8, 3), null, opts, dir.Path);
        foreach (var (name, p) in model.named_parameters())
        {
            bool same = before[name].SequenceEqual(p.data<float>().ToArray());
            Assert.True(name.EndsWith("q_proj.weight") ? !same : same, name);
        }
        var e = Assert.Throws<StepDpoException>(() => new LoraAdapters(new TinyCausalLM(), new LoraOptions { TargetModules = ["gate"] }, 1));
        Assert.Contains("'lora.target_modules'", e.Message);
    }
}
