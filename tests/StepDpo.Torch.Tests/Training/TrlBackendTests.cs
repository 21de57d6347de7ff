using Snapshooter.Xunit;
using StepDpo.Core;
using StepDpo.Torch.Training;

namespace StepDpo.Torch.Tests.Training;

public class TrlBackendTests
{
    static readonly StepDpoRecord[] Records =
    [
        new("What is 2+3?", "Let's think step by step.\nStep 1: We add.\nStep 2:", " 2+3=5.", " 2+3=6."),
        new("Solve x+1=2.", "Let's think step by step.\nStep 1:", " x = 1.", " x = 3."),
    ];

    static string Alpaca(StepDpoRecord r) =>
        "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n" +
        $"### Instruction:\n{r.Prompt}\n\n### Response:" + "\n" + r.InitialReasonSteps;

    [Fact]
    public void Writes_the_step_dpo_recipe_for_trl_with_the_same_hyperparameters()
    {
        using var dir = new TempDir();
        // The released 7B recipe: lr 5e-7, cosine, warmup 0.1, global batch 128 = 4 x 4 x 8, beta 0.5, 8 epochs, bf16.
        var opts = new TrainOptions { Beta = 0.5, LearningRate = 5e-7, Epochs = 8, MicroBatchSize = 4, GradientAccumulationSteps = 32,
            MaxLength = 1024, MaxPromptLength = 512, Dtype = "bfloat16", GradientCheckpointing = true, SaveSteps = 100 };
        var launch = TrlBackend.Write(dir.Path, Records, Alpaca, opts, "/models/qwen2-7b-sft", processes: 8);
        var files = launch.Files.ToDictionary(f => f, f => File.ReadAllText(Path.Combine(dir.Path, f)));
        Assert.Contains("gradient_accumulation_steps: 4\n", files["dpo_config.yaml"]);
        Snapshot.Match(new { launch.Command, files });
    }

    [Fact]
    public void A_global_batch_that_does_not_split_over_the_processes_is_an_error()
    {
        using var dir = new TempDir();
        var opts = new TrainOptions { MicroBatchSize = 4, GradientAccumulationSteps = 3 };
        var e = Assert.Throws<StepDpoException>(() => TrlBackend.Write(dir.Path, Records, Alpaca, opts, "m", processes: 8));
        Assert.Contains("global batch 12", e.Message);
    }
}
