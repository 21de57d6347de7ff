using StepDpo.Torch.Checkpoints;
using StepDpo.Torch.Devices;
using StepDpo.Torch.Generation;
using StepDpo.Torch.Model;
using StepDpo.Torch.Tests.Training;
using StepDpo.Torch.Training;
using static TorchSharp.torch;

namespace StepDpo.Torch.Tests;

/// <summary>Work spread over CPU threads (static generation batches, a step's micro-batches) gives the results of doing
/// it on one thread, bit for bit: how many cores a machine has never changes an artifact.</summary>
[Collection(nameof(CpuWorkersTests))] // changes STEPDPO_THREADS, which other tests read too (their results do not depend on it)
[CollectionDefinition(nameof(CpuWorkersTests), DisableParallelization = true)]
public class CpuWorkersTests
{
    static readonly CharTokenizer Tokenizer = new();

    [Fact]
    public void Static_batches_on_several_workers_generate_what_one_worker_does_in_bf16()
    {
        using var lm = new CausalLM(Presets.Create("qwen2", "tiny", Tokenizer.VocabSize), ScalarType.BFloat16);
        RandomInit.Apply(lm, 3);
        var engine = new GenerationEngine(lm, Tokenizer);
        var prompts = Enumerable.Range(0, 11).Select(i => $"Q{i}: {new string('x', i * 3)} has {i} apples. A:").ToList();
        var options = new SamplingOptions { Temperature = 0.9, TopP = 0.95, N = 2, MaxNewTokens = 24, Seed = 5, MaxBatchSize = 4 };
        var one = engine.Generate(prompts, options);
        foreach (int workers in new[] { 2, 3, 8 })
        {
            var many = engine.Generate(prompts, options with { Workers = workers });
            Assert.Equal(one.Count, many.Count);
            for (int i = 0; i < one.Count; i++)
            {
                Assert.Equal(one[i].TokenIds, many[i].TokenIds);
                Assert.Equal(one[i].TokenLogprobs, many[i].TokenLogprobs); // exactly: the same batches ran
            }
        }
        Assert.True(one.Select(c => c.Text).Distinct().Count() > 10, "the sequences differ from one another");
    }

    [Fact]
    public void A_cancelled_generation_on_several_workers_throws_cancellation()
    {
        using var lm = new CausalLM(Presets.Create("qwen2", "tiny", Tokenizer.VocabSize));
        RandomInit.Apply(lm, 4);
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        var options = new SamplingOptions { Temperature = 0, MaxNewTokens = 8, MaxBatchSize = 1, Workers = 2 };
        Assert.ThrowsAny<OperationCanceledException>(() =>
            new GenerationEngine(lm, Tokenizer).Generate(["a", "b", "c"], options, ct: cts.Token));
    }

    [Fact]
    public void The_first_failure_stops_new_work_and_reaches_the_caller()
    {
        int started = 0;
        var e = Assert.Throws<InvalidOperationException>(() => CpuWorkers.Run(Enumerable.Range(0, 1000).ToList(), 2, i =>
        {
            Interlocked.Increment(ref started);
            if (i == 3) throw new InvalidOperationException("piece 3");
            Thread.Sleep(2);
        }));
        Assert.Equal("piece 3", e.Message);
        // The other worker stops at its next piece (left alone it would take 2 seconds for the rest).
        Assert.InRange(started, 4, 999);
    }

    [Fact]
    public void Micro_batches_run_at_once_train_the_model_one_after_another_does_bit_for_bit()
    {
        var tok = new ByteTokenizer(withBos: true);
        var rng = new Random(9);
        var examples = Enumerable.Range(0, 36).Select(_ =>
        {
            int a = rng.Next(50), b = rng.Next(50);
            return new SftExample(tok.Encode($"{a}+{b}="), tok.Encode($"{a + b};"));
        }).ToList();
        // 3 micro-batches a step: with 2 workers one runs the third while the other is idle; the sum is still in order.
        var opts = new TrainOptions { LearningRate = 5e-3, Epochs = 1, MicroBatchSize = 4, GradientAccumulationSteps = 3,
            MaxLength = 32, MaxPromptLength = 16, Dtype = "bfloat16", GradientCheckpointing = false, Seed = 2 };

        float[][] TrainWith(string threads)
        {
            string? before = Environment.GetEnvironmentVariable("STEPDPO_THREADS");
            Environment.SetEnvironmentVariable("STEPDPO_THREADS", threads);
            try
            {
                using var dir = new TempDir();
                using var model = new CausalLM(Presets.Create("qwen2", "tiny", 260));
                RandomInit.Apply(model, 7);
                SftTrainer.Train(model, examples, opts, dir.Path);
                return model.parameters().Select(p => p.to(ScalarType.Float32).data<float>().ToArray()).ToArray();
            }
            finally { Environment.SetEnvironmentVariable("STEPDPO_THREADS", before); }
        }

        var sequential = TrainWith("1");
        var parallel = TrainWith("2");
        Assert.Equal(sequential.Length, parallel.Length);
        for (int i = 0; i < sequential.Length; i++) Assert.Equal(sequential[i], parallel[i]);
        using var init = new CausalLM(Presets.Create("qwen2", "tiny", 260));
        RandomInit.Apply(init, 7);
        Assert.NotEqual(init.parameters().First().to(ScalarType.Float32).data<float>().ToArray(), sequential[0]); // it trained
    }
}
