using StepDpo.Torch.Training;
using TorchSharp;
using TorchSharp.Modules;
using AdamW = StepDpo.Torch.Training.AdamW;
using static TorchSharp.torch;

namespace StepDpo.Torch.Tests.Training;

public class OptimizerTests
{
    [Fact]
    public void AdamW_matches_torch_AdamW_on_fp32()
    {
        var w1 = new Parameter(tensor(new float[] { 0.5f, -0.2f, 0.1f, 0.9f }).reshape(2, 2));
        var w2 = new Parameter(tensor(new float[] { 0.5f, -0.2f, 0.1f, 0.9f }).reshape(2, 2));
        var ours = new AdamW([("w", w1)], 0.9, 0.999, 1e-8, weightDecay: 0.1);
        var theirs = torch.optim.AdamW([w2], lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.1);
        var x = tensor(new float[] { 1, 2, -1, 0.5f }).reshape(2, 2);
        for (int step = 0; step < 5; step++)
        {
            foreach (var w in new[] { w1, w2 })
            {
                w.grad = null;
                (x.matmul(w).pow(3).sum() * (step + 1)).backward();
            }
            ours.Step(0.01);
            theirs.step();
        }
        var a = w1.data<float>().ToArray();
        var b = w2.data<float>().ToArray();
        for (int i = 0; i < a.Length; i++) Assert.Equal(b[i], a[i], 6);
    }

    [Fact]
    public void Bf16_weights_follow_fp32_master_weights_where_bf16_alone_would_round_every_update_away()
    {
        // lr 1e-4 moves 1.0 by 1e-4 per step; bf16 spacing at 1.0 is 2^-7 = 0.0078, so a bf16-only update is lost.
        var p = new Parameter(ones(1, 1, ScalarType.BFloat16));
        var opt = new AdamW([("p", p)]);
        for (int i = 0; i < 100; i++)
        {
            p.grad = ones(1, 1, ScalarType.BFloat16);
            opt.Step(1e-4);
        }
        float moved = p.to(ScalarType.Float32).item<float>();
        Assert.InRange(moved, 0.99f - 0.004f, 0.99f + 0.004f);

        using var dir = new TempDir();
        opt.Save(dir.Sub("opt.safetensors"));
        var q = new Parameter(ones(1, 1, ScalarType.BFloat16));
        var restored = new AdamW([("p", q)]);
        restored.Load(dir.Sub("opt.safetensors"));
        Assert.Equal(100, restored.StepCount);
        Assert.Equal(moved, q.to(ScalarType.Float32).item<float>());
    }

    [Fact]
    public void The_state_file_is_safetensors_with_pytorchs_moment_names_and_refuses_another_models_state()
    {
        var w = new Parameter(ones(3, 2, ScalarType.BFloat16));
        var b = new Parameter(zeros(3));
        var opt = new AdamW([("w", w), ("b", b)]);
        w.grad = ones(3, 2, ScalarType.BFloat16);
        b.grad = ones(3);
        opt.Step(1e-2);
        using var dir = new TempDir();
        string path = dir.Sub("opt.safetensors");
        opt.Save(path);
        using (var reader = new StepDpo.Torch.Checkpoints.SafeTensorsReader(path))
        {
            Assert.Equal(["b.exp_avg", "b.exp_avg_sq", "b.master", "w.exp_avg", "w.exp_avg_sq", "w.master"], reader.Entries.Keys.Order());
            Assert.All(reader.Entries.Values, e => Assert.Equal("F32", e.DType));
            Assert.Equal("1", reader.Metadata["step"]);
            using var m = reader.Read("w.exp_avg");
            Assert.Equal(0.1f, m[0, 0].item<float>(), 6); // (1 - beta1) * g
        }

        var other = new AdamW([("w", new Parameter(ones(3, 2, ScalarType.BFloat16)))]);
        var e = Assert.Throws<InvalidDataException>(() => other.Load(path));
        Assert.Matches("tensor 'b[.][a-z_]+' belongs to no trainable parameter", e.Message);
        var reshaped = new AdamW([("w", new Parameter(ones(2, 3, ScalarType.BFloat16))), ("b", new Parameter(zeros(3)))]);
        e = Assert.Throws<InvalidDataException>(() => reshaped.Load(path));
        Assert.Contains("'w.master'", e.Message);
        File.WriteAllBytes(dir.Sub("junk"), new byte[16]);
        Assert.ThrowsAny<Exception>(() => other.Load(dir.Sub("junk")));
    }

    [Fact]
    public void Grad_norm_and_clipping()
    {
        var p = new Parameter(zeros(2));
        var opt = new AdamW([("p", p)]);
        p.grad = tensor(new float[] { 3, 4 });
        Assert.Equal(5.0, opt.GradNorm(), 6);
        opt.ScaleGrads(0.2);
        Assert.Equal(1.0, opt.GradNorm(), 6);
    }

    [Theory]
    [InlineData("cosine", 0, 0.0)]
    [InlineData("cosine", 1, 1.0)]
    [InlineData("cosine", 10, 0.0)]
    [InlineData("linear", 5, 5.0 / 9)]
    [InlineData("constant", 7, 1.0)]
    public void Schedules_follow_hugging_face(string type, int step, double expected)
    {
        var s = new LrSchedule(LrSchedule.Parse(type)!.Value, 1.0, totalSteps: 10, warmupRatio: 0.1);
        Assert.Equal(1, s.WarmupSteps);
        Assert.Equal(expected, s.At(step), 9);
        if (type == "cosine") Assert.Equal(0.5 * (1 + Math.Cos(Math.PI * 5 / 9)), s.At(6), 9);
    }

    [Fact]
    public void Batch_plan_is_deterministic_covers_every_example_once_and_groups_similar_lengths()
    {
        var lengths = Enumerable.Range(0, 200).Select(i => (i * 37) % 101).ToArray();
        var a = BatchPlanner.Plan(lengths, 4, seed: 3, epoch: 1);
        Assert.Equal(a.Select(b => string.Join(",", b)), BatchPlanner.Plan(lengths, 4, 3, 1).Select(b => string.Join(",", b)));
        Assert.NotEqual(a[0], BatchPlanner.Plan(lengths, 4, 3, 2)[0]);
        Assert.Equal(Enumerable.Range(0, 200), a.SelectMany(b => b).Order());
        // padding waste: bucketed batches pad far less than random ones would (mean spread of a 4-batch)
        double spread = a.Average(b => b.Max(i => lengths[i]) - b.Min(i => lengths[i]));
        Assert.True(spread < 10, $"mean length spread in a micro-batch {spread}");
    }
}
