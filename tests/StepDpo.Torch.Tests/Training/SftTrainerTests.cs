using StepDpo.Torch.Training;
using static TorchSharp.torch;

namespace StepDpo.Torch.Tests.Training;

public class SftTrainerTests
{
    static List<SftExample> Additions(int n, int seed)
    {
        var rng = new Random(seed);
        var tok = new ByteTokenizer(withBos: true);
        return Enumerable.Range(0, n).Select(_ =>
        {
            int a = rng.Next(5), b = rng.Next(5);
            return new SftExample([256, .. tok.Encode($"{a}+{b}=")], tok.Encode($"{a + b};"));
        }).ToList();
    }

    [Fact]
    public void Packing_gives_each_example_the_log_probs_it_has_alone()
    {
        var model = new TinyCausalLM(seed: 21);
        var examples = Additions(5, 1);
        using var _ = no_grad();
        using var packed = SftTrainer.Pack(examples, maxLength: 20);
        Assert.True(packed.Rows < examples.Count);
        using var logits = model.Forward(packed.InputIds, packed.PositionIds, packed.AttentionMask);
        var together = packed.GroupLogProbs(logits).data<float>().ToArray();
        for (int i = 0; i < examples.Count; i++)
        {
            using var alone = SftTrainer.Pack([examples[i]], 20);
            using var l = model.Forward(alone.InputIds, alone.PositionIds, alone.AttentionMask);
            Assert.Equal(alone.GroupLogProbs(l).item<float>(), together[i], 4);
        }
    }

    [Fact]
    public void Sft_from_scratch_learns_small_additions()
    {
        using var dir = new TempDir();
        var opts = new TrainOptions { LearningRate = 1e-2, LrScheduler = "linear", WarmupRatio = 0.03, Epochs = 8,
            MicroBatchSize = 16, GradientAccumulationSteps = 1, MaxLength = 16, MaxPromptLength = 8, EvalFraction = 0.1 };
        var model = new TinyCausalLM(seed: 22);
        var result = SftTrainer.Train(model, Additions(160, 2), opts, dir.Path);
        var rows = MetricsLog.ReadJsonl(Path.Combine(dir.Path, MetricsLog.JsonlName)).Where(r => r.ContainsKey("loss")).ToList();
        Assert.True(rows[^1]["loss"] < 0.5 * rows[0]["loss"], $"loss {rows[0]["loss"]} -> {rows[^1]["loss"]}");
        Assert.True(result.LastEval!["eval_token_accuracy"] > 0.5, $"eval accuracy {result.LastEval["eval_token_accuracy"]}");
    }
}
