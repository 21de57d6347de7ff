using StepDpo.Core.Manifests;
using StepDpo.Torch.Training;
using StepDpo.Torch.Training.Trl;
using static TorchSharp.torch;

namespace StepDpo.Torch.Tests.Training;

/// <summary>Every TRL loss type through the real trainer on a small decoder, and the metrics TRL logs.</summary>
public class LossFamilyTrainingTests
{
    static TrainOptions Short(string loss) => new()
    {
        Loss = [loss], Beta = 0.5, LabelSmoothing = TrainLosses.UseLabelSmoothing.Contains(loss) ? 0.1 : 0,
        LearningRate = 3e-3, LrScheduler = "constant", WarmupRatio = 0, Epochs = 2, MicroBatchSize = 4,
        GradientAccumulationSteps = 1, MaxLength = 64, MaxPromptLength = 48, Seed = 5,
    };

    public static TheoryData<string> Names => [.. TrainLosses.Names];

    [Theory]
    [MemberData(nameof(Names))]
    public void Each_loss_type_trains_a_step_dpo_run_with_finite_losses_and_flowing_gradients(string loss)
    {
        using var dir = new TempDir();
        var pairs = TestPairs.Random(8, prefix: 10, step: 3, seed: 13);
        var model = new TinyCausalLM(seed: 4);
        var before = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());
        var result = StepDpoTrainer.Train(model, pairs, null, Short(loss), dir.Path);

        Assert.Equal(4, result.Steps); // 8 pairs / 4 per step, 2 epochs
        var rows = MetricsLog.ReadJsonl(Path.Combine(dir.Path, MetricsLog.JsonlName));
        foreach (var row in rows)
            foreach (var name in StepDpoTrainer.MetricNames) Assert.True(double.IsFinite(row[name]), $"{loss}: {name} = {row[name]}");
        // At step 1 the policy is the reference; every loss has a gradient there (later, hinge may be satisfied: 0).
        Assert.True(rows[0]["grad_norm"] > 0, $"{loss}: no gradient at step 1");
        double moved = model.named_parameters().Sum(p => (p.parameter.detach() - before[p.name]).abs().max().item<float>());
        Assert.True(moved > 0, $"{loss}: the weights did not change");
    }

    [Fact]
    public void Sigmoid_plus_sft_is_the_RPO_term_the_trainer_used_to_add_dpo_plus_the_token_mean_nll_of_the_chosen_steps()
    {
        using var dir = new TempDir();
        var pairs = TestPairs.Random(6, prefix: 9, step: 4, seed: 21);
        var model = new TinyCausalLM(seed: 9);
        var refs = ReferenceLogProbs.Compute(model, pairs, "k");
        // One micro-batch, one step: at step 1 the policy is the reference (every margin 0, DPO loss log 2), and the sft
        // term is -sum log pi(chosen) / chosen tokens over the batch; weight 0.5 halves it.
        var opts = Short("sigmoid") with { Loss = ["sigmoid", "sft"], LossWeights = [1.0, 0.5], MicroBatchSize = 6, Epochs = 1 };
        StepDpoTrainer.Train(model, pairs, refs, opts, dir.Path);
        var first = MetricsLog.ReadJsonl(Path.Combine(dir.Path, MetricsLog.JsonlName))[0];
        double nll = -refs.Chosen.Sum() / refs.ChosenTokens.Sum();
        Assert.Equal(Math.Log(2) + 0.5 * nll, first["loss"], 4);
    }

    [Fact]
    public void Logits_entropy_and_token_accuracy_are_TRL_s_token_averages_over_the_completions()
    {
        using var dir = new TempDir();
        var pairs = TestPairs.Random(3, prefix: 7, step: 4, seed: 2);
        var model = new TinyCausalLM(seed: 12);

        // Independently of the trainer's packed layout: run each prompt + completion as a plain causal sequence and
        // average over the completion's positions (the logits that predict its tokens).
        double chosenLogit = 0, rejectedLogit = 0, entropy = 0, hits = 0;
        int chosenTokens = 0, rejectedTokens = 0;
        using (no_grad())
            foreach (var p in pairs)
                foreach (var (completion, isChosen) in new[] { (p.Chosen, true), (p.Rejected, false) })
                {
                    int[] ids = [.. p.Prompt, .. completion];
                    using var input = tensor(ids.Select(i => (long)i).ToArray(), [1, ids.Length]);
                    using var logits = model.Forward(input);
                    var all = logits.data<float>().ToArray();
                    int v = model.VocabSize;
                    for (int k = 0; k < completion.Length; k++)
                    {
                        var row = all.AsSpan((p.Prompt.Length - 1 + k) * v, v).ToArray();
                        double max = row.Max(), logZ = max + Math.Log(row.Sum(x => Math.Exp(x - max)));
                        entropy -= row.Sum(x => Math.Exp(x - logZ) * (x - logZ));
                        if (isChosen)
                        {
                            chosenLogit += row.Average(x => (double)x); chosenTokens++;
                            if (Array.IndexOf(row, row.Max()) == completion[k]) hits++;
                        }
                        else { rejectedLogit += row.Average(x => (double)x); rejectedTokens++; }
                    }
                }

        var opts = Short("sigmoid") with { MicroBatchSize = 3, Epochs = 1 };
        StepDpoTrainer.Train(model, pairs, null, opts, dir.Path);
        var first = MetricsLog.ReadJsonl(Path.Combine(dir.Path, MetricsLog.JsonlName))[0];
        Assert.Equal(chosenLogit / chosenTokens, first["logits/chosen"], 4);
        Assert.Equal(rejectedLogit / rejectedTokens, first["logits/rejected"], 4);
        Assert.Equal(entropy / (chosenTokens + rejectedTokens), first["entropy"], 4);
        Assert.Equal(hits / chosenTokens, first["mean_token_accuracy"], 6);
    }

    [Fact]
    public void A_loss_list_goes_to_TRL_as_loss_type_and_loss_weights()
    {
        using var dir = new TempDir();
        var opts = Short("sigmoid") with { Loss = ["sigmoid", "sft", "discopop"], LossWeights = [1.0, 0.5, 0.25], DiscopopTau = 0.1 };
        TrlExport.Write(dir.Path, [new PreferencePair("What is 2+3?Let's think step by step.\nStep 1:", " 2+3=5.", " 2+3=6.")],
            opts, "m", TrlDialect.Current, new TrlJob(1));
        var config = File.ReadAllText(Path.Combine(dir.Path, "dpo_config.yaml"));
        Assert.Contains("loss_type: [\"sigmoid\", \"sft\", \"discopop\"]\n", config);
        Assert.Contains("loss_weights: [1.0, 0.5, 0.25]\n", config);
        Assert.Contains("discopop_tau: 0.1\n", config);
        Assert.DoesNotContain("rpo_alpha", config);
    }
}
