using StepDpo.Torch.Checkpoints;
using StepDpo.Torch.Model;
using StepDpo.Torch.Training;
using static TorchSharp.torch;

namespace StepDpo.Torch.Tests.Training;

/// <summary>The trainer's guarantees on the real Qwen2 / Llama decoder, not only on the test transformer.</summary>
public class RealModelTrainingTests
{
    static CheckpointedCausalLM Model(string arch, ulong seed)
    {
        var m = new CausalLM(Presets.Create(arch, "tiny", 260));
        RandomInit.Apply(m, seed, perturbNormsAndBiases: true);
        return new CheckpointedCausalLM(m);
    }

    static (double Loss, Dictionary<string, float[]> Grads) LossAndGrads(ICausalLM model, List<TokenizedPair> pairs, bool shared)
    {
        model.Module.train();
        foreach (var p in model.Module.parameters()) p.grad = null;
        using var batch = SharedPrefixBatch.Build(pairs, shared);
        using var lp = SharedPrefixBatch.Forward(model, batch);
        using var output = DpoLoss.Compute(DpoLossType.Robust, new LossSettings(0.5, LabelSmoothing: 0.1),
            new PairLogps(lp.Chosen, lp.Rejected, lp.Chosen.detach() - 0.2, lp.Rejected.detach() + 0.1, ones_like(lp.Chosen), ones_like(lp.Rejected)));
        var loss = output.Loss;
        loss.backward();
        return (loss.item<float>(), model.Module.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.data<float>().ToArray()));
    }

    [Theory]
    [InlineData("qwen2")]
    [InlineData("llama")]
    public void Shared_prefix_and_checkpointing_match_two_full_sequences_on_the_real_decoder(string arch)
    {
        using var model = Model(arch, 5);
        var pairs = TestPairs.Random(3, prefix: 20, step: 5, vocab: 250);
        var full = LossAndGrads(model, pairs, shared: false);
        var shared = LossAndGrads(model, pairs, shared: true);
        Assert.Equal(full.Loss, shared.Loss, 1e-5);
        SharedPrefixEquivalenceTests.AssertGradsClose(full.Grads, shared.Grads, 1e-5);

        model.GradientCheckpointing = true;
        long before = ActivationCheckpoint.Recomputations;
        var recomputed = LossAndGrads(model, pairs, shared: true);
        Assert.True(ActivationCheckpoint.Recomputations - before >= 2, "each of the 2 layers is recomputed in backward");
        Assert.Equal(shared.Loss, recomputed.Loss, 1e-6);
        SharedPrefixEquivalenceTests.AssertGradsClose(shared.Grads, recomputed.Grads, 1e-6);
    }

    [Fact]
    public void Lora_and_bf16_training_with_checkpointing_runs_on_the_real_decoder_and_moves_only_the_targets()
    {
        using var dir = new TempDir();
        using var model = Model("qwen2", 8);
        // Compared after the bf16 rounding the trainer applies when it converts the model.
        var before = model.Module.named_parameters().ToDictionary(p => p.name, p => p.parameter.to(ScalarType.BFloat16).to(ScalarType.Float32).data<float>().ToArray());
        var opts = new TrainOptions { LearningRate = 1e-2, Epochs = 1, MicroBatchSize = 2, MaxLength = 64, MaxPromptLength = 32,
            Dtype = "bfloat16", GradientCheckpointing = true, Lora = new LoraOptions { Rank = 4, TargetModules = ["q_proj", "v_proj"] } };
        long recomputed = ActivationCheckpoint.Recomputations;
        // The bare CausalLM, as the stages pass it: the trainer adds the checkpointing view itself.
        var result = StepDpoTrainer.Train(model.Model, TestPairs.Random(4, 10, 3, vocab: 250), null, opts, dir.Path);
        Assert.True(double.IsFinite(result.LastStep!["loss"]));
        Assert.True(ActivationCheckpoint.Recomputations > recomputed);
        foreach (var (name, p) in model.Module.named_parameters())
        {
            Assert.Equal(ScalarType.BFloat16, p.dtype);
            bool target = name.EndsWith("q_proj.weight") || name.EndsWith("v_proj.weight");
            bool same = before[name].SequenceEqual(p.to(ScalarType.Float32).data<float>().ToArray());
            Assert.True(target ? !same : same, name);
            Assert.True(p.requires_grad, name); // merged and unfrozen at the end
        }
    }
}
