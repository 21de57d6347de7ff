using System.Text.Json;
using StepDpo.Core;
using StepDpo.Torch.Training;
using static TorchSharp.torch;

namespace StepDpo.Torch.Tests.Training;

public class StepDpoTrainerTests
{
    static TrainOptions Fast => new()
    {
        Beta = 0.5, LearningRate = 3e-3, LrScheduler = "cosine", WarmupRatio = 0.1, Epochs = 3, MicroBatchSize = 2,
        GradientAccumulationSteps = 2, MaxLength = 64, MaxPromptLength = 48, Seed = 11, MaxGradNorm = 1.0,
    };

    static Dictionary<string, float[]> Weights(TinyCausalLM m) =>
        m.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().to(ScalarType.Float32).data<float>().ToArray());

    [Fact]
    public void Training_separates_chosen_from_rejected_and_logs_every_step_with_TRL_names()
    {
        using var dir = new TempDir();
        var pairs = TestPairs.Random(8, prefix: 12, step: 4, seed: 5);
        var model = new TinyCausalLM(seed: 2);
        var seen = new List<StepMetrics>();
        var result = StepDpoTrainer.Train(model, pairs, null, Fast, dir.Path, seen.Add);

        // 8 pairs / (2 x 2) = 2 steps per epoch, 3 epochs
        Assert.Equal(6, result.Steps);
        var rows = MetricsLog.ReadJsonl(Path.Combine(dir.Path, MetricsLog.JsonlName));
        Assert.Equal(6, rows.Count);
        foreach (var name in new[] { "loss", "rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins",
                     "logps/chosen", "logps/rejected", "logits/chosen", "logits/rejected", "entropy", "mean_token_accuracy",
                     "grad_norm", "learning_rate", "tokens_per_second", "epoch" })
            Assert.True(rows.All(r => r.ContainsKey(name)), name);
        // At step 1 the policy is the reference: rewards 0, loss log 2.
        Assert.Equal(Math.Log(2), rows[0]["loss"], 4);
        Assert.Equal(0, rows[0]["rewards/margins"], 5);
        Assert.Equal(0, rows[0]["learning_rate"]); // warmup starts at 0 like Hugging Face's schedulers
        Assert.True(rows[^1]["loss"] < 0.6, $"final loss {rows[^1]["loss"]}");
        Assert.True(rows[^1]["rewards/margins"] > 0);
        Assert.Equal(3.0, rows[^1]["epoch"], 6);
        Assert.True(File.Exists(Path.Combine(result.FinalDirectory, "model.dat")));
        Assert.True(File.Exists(Path.Combine(dir.Path, ReferenceLogProbs.FileName)));
        Assert.Equal(7, File.ReadAllLines(Path.Combine(dir.Path, MetricsLog.CsvName)).Length);
        Assert.True(seen[^1].Eta == TimeSpan.Zero && seen[0].Eta > TimeSpan.Zero);
    }

    [Fact]
    public void Resume_after_a_kill_gives_the_same_final_weights_as_an_uninterrupted_run()
    {
        using var dir = new TempDir();
        var pairs = TestPairs.Random(8, prefix: 10, step: 3, seed: 9);
        var opts = Fast with { SaveSteps = 2, Epochs = 2, Dtype = "bfloat16" };

        var straight = new TinyCausalLM(seed: 6);
        StepDpoTrainer.Train(straight, pairs, null, opts, dir.Sub("a"));

        var killed = new TinyCausalLM(seed: 6);
        using var cts = new CancellationTokenSource();
        Assert.ThrowsAny<OperationCanceledException>(() => StepDpoTrainer.Train(killed, pairs, null, opts, dir.Sub("b"),
            m => { if (m.Step == 3) cts.Cancel(); }, cts.Token));
        Assert.True(Directory.Exists(Path.Combine(dir.Sub("b"), "checkpoint-2")));
        Assert.False(Directory.Exists(Path.Combine(dir.Sub("b"), "final")));

        var resumed = new TinyCausalLM(seed: 6); // a fresh process would load the start model again
        var steps = new List<int>();
        StepDpoTrainer.Train(resumed, pairs, null, opts, dir.Sub("b"), m => steps.Add(m.Step));
        Assert.Equal(new[] { 3, 4 }, steps);

        var expected = Weights(straight);
        var actual = Weights(resumed);
        foreach (var (name, w) in expected) Assert.Equal(w, actual[name]);
        var rowsA = File.ReadAllLines(Path.Combine(dir.Sub("a"), MetricsLog.JsonlName));
        var rowsB = File.ReadAllLines(Path.Combine(dir.Sub("b"), MetricsLog.JsonlName));
        Assert.Equal(rowsA.Length, rowsB.Length);
    }

    [Fact]
    public void A_nan_stops_the_run_with_a_message_and_keeps_the_last_good_checkpoint()
    {
        using var dir = new TempDir();
        var pairs = TestPairs.Random(8, prefix: 8, step: 3, seed: 4);
        var model = new TinyCausalLM(seed: 8);
        var opts = Fast with { SaveSteps = 1, MicroBatchSize = 1, GradientAccumulationSteps = 1, Epochs = 1 };
        var refs = ReferenceLogProbs.Compute(model, pairs, "k");
        // Poison one pair: the step that meets it must stop the run.
        refs.Chosen[5] = double.NaN;
        var e = Assert.Throws<TrainingDivergedException>(() => StepDpoTrainer.Train(model, pairs, refs, opts, dir.Path));
        Assert.Contains("loss is NaN at step", e.Message);
        Assert.False(Directory.Exists(Path.Combine(dir.Path, "final")));
        var checkpoints = Directory.GetDirectories(dir.Path, "checkpoint-*");
        Assert.All(checkpoints, c => Assert.False(c.EndsWith(".tmp")));
        if (checkpoints.Length > 0) Assert.Contains("Last good checkpoint", e.Message);
    }

    [Fact]
    public void Held_out_pairs_are_evaluated_every_eval_steps()
    {
        using var dir = new TempDir();
        var pairs = TestPairs.Random(10, prefix: 8, step: 3, seed: 3);
        var opts = Fast with { EvalFraction = 0.2, EvalSteps = 2, Epochs = 2 };
        var evals = new List<StepMetrics>();
        StepDpoTrainer.Train(new TinyCausalLM(seed: 1), pairs, null, opts, dir.Path, m => { if (m.IsEval) evals.Add(m); });
        // 8 train pairs -> 2 steps per epoch, 4 steps: evaluations after steps 2 and 4
        Assert.Equal(new[] { 2, 4 }, evals.Select(m => m.Step));
        Assert.True(evals.All(m => m.Values.ContainsKey("eval_loss") && m.Values.ContainsKey("eval_rewards/accuracies")));
    }

    [Fact]
    public void Bad_options_name_the_key()
    {
        var e = Assert.Throws<StepDpoException>(() => (Fast with { Loss = ["sigmoid", "ipoo"] }).Validate("stage.yaml train"));
        Assert.StartsWith("stage.yaml train: key 'loss' = ipoo: is not a loss type; did you mean 'ipo'? (one of sigmoid, hinge, ipo,", e.Message);
        e = Assert.Throws<StepDpoException>(() => (Fast with { Loss = ["sigmoid", "sft"], LossWeights = [1.0] }).Validate("stage.yaml train"));
        Assert.Equal("stage.yaml train: loss_weights: 1 weights for 2 losses ([sigmoid, sft]); give one weight per loss, or none for 1 each", e.Message);
        e = Assert.Throws<StepDpoException>(() => (Fast with { Loss = ["exo_pair"] }).Validate());
        Assert.Contains("exo_pair needs label_smoothing > 0", e.Message);
        e = Assert.Throws<StepDpoException>(() => (Fast with { LabelSmoothing = 0.1 }).Validate());
        Assert.Contains("label_smoothing: 0.1 is read only by robust, exo_pair, aot, aot_unpaired", e.Message);
        e = Assert.Throws<StepDpoException>(() => (Fast with { MaxPromptLength = 64 }).Validate());
        Assert.Contains("'max_prompt_length'", e.Message);
    }

    [Fact]
    public void Options_read_from_snake_case_json()
    {
        var o = JsonSerializer.Deserialize<TrainOptions>(
            """{"beta":0.4,"loss":["sigmoid","sft"],"loss_weights":[1,0.5],"learning_rate":5e-7,"gradient_accumulation_steps":8,"lora":{"rank":4,"target_modules":["q_proj"]}}""")!;
        Assert.Equal((8, 4), (o.GradientAccumulationSteps, o.Lora!.Rank));
        Assert.Equal([(DpoLossType.Sigmoid, 1.0), (DpoLossType.Sft, 0.5)], o.WeightedLosses);
    }

    /// <summary>A model whose forward asks libtorch for 4 TB, as a too-long batch eventually would.</summary>
    sealed class GreedyModel(TinyCausalLM inner) : ICausalLM
    {
        public TorchSharp.torch.nn.Module Module => inner;
        public int VocabSize => inner.VocabSize;
        public Tensor Forward(Tensor inputIds, Tensor? positionIds = null, Tensor? attentionMask = null)
        {
            using var huge = empty(1L << 40, ScalarType.Float32);
            return inner.Forward(inputIds, positionIds, attentionMask);
        }
    }

    [Fact]
    public void Out_of_memory_names_the_knobs()
    {
        using var dir = new TempDir();
        var pairs = TestPairs.Random(2, 6, 2);
        var inner = new TinyCausalLM(seed: 3);
        var refs = ReferenceLogProbs.Compute(inner, pairs, "k");
        var e = Assert.Throws<StepDpoException>(() => StepDpoTrainer.Train(new GreedyModel(inner), pairs, refs, Fast, dir.Path));
        Assert.Contains("out of memory", e.Message);
        foreach (var knob in new[] { "'micro_batch_size'", "'max_length'", "'gradient_checkpointing: true'" }) Assert.Contains(knob, e.Message);
    }

    [Fact]
    public void Evaluation_rows_index_as_NaN_for_training_names()
    {
        var m = new StepMetrics(1, 1, 1, new Dictionary<string, double> { ["eval_loss"] = 0.5 }, TimeSpan.Zero, TimeSpan.Zero, IsEval: true);
        Assert.True(double.IsNaN(m["loss"]));
        Assert.Equal(0.5, m["eval_loss"]);
    }
}
