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

    [Fact]
    public void Merged_lora_weights_reproduce_the_adapted_model()
    {
        var model = new TinyCausalLM(seed: 13);
        using var ids = tensor(new long[] { 5, 9, 77, 3, 120, 4 }).reshape(1, 6);
        using var baseline = model.Forward(ids);
        using var lora = new LoraAdapters(model, new LoraOptions { Rank = 2, Alpha = 4, TargetModules = ["q_proj", "v_proj"] }, 1);
        Assert.Equal(4, lora.Count); // 2 layers x 2 targets
        using (var same = model.Forward(ids)) Assert.True(allclose(same, baseline)); // B = 0 at start
        using (no_grad()) foreach (var (_, p) in lora.Parameters) p.add_(0.05);
        using var adapted = model.Forward(ids);
        lora.EnsureHooksRan();
        Assert.False(allclose(adapted, baseline, 1e-3, 1e-3));
        lora.Merge();
        using var merged = model.Forward(ids);
        Assert.True(allclose(merged, adapted, 1e-4, 1e-4));
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
