using System.Text.Json;
using StepDpo.Core;
using StepDpo.Torch.Training;
using StepDpo.Torch.Training.Trl;

namespace StepDpo.Torch.Tests.Training.Trl;

public class TrlExportTests
{
    internal static readonly (string Prompt, string InitialReasonSteps, string Chosen, string Rejected)[] Records =
    [
        ("What is 2+3?", "Let's think step by step.\nStep 1: We add.\nStep 2:", " 2+3=5.", " 2+3=6."),
        ("Solve x+1=2.", "Let's think step by step.\nStep 1:", " x = 1.", " x = 3."),
    ];

    internal static string Alpaca((string Prompt, string InitialReasonSteps, string Chosen, string Rejected) r) =>
        "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n" +
        $"### Instruction:\n{r.Prompt}\n\n### Response:" + "\n" + r.InitialReasonSteps;

    /// <summary>TRL's rows of <see cref="Records"/>: the Alpaca-rendered condition and the two steps.</summary>
    internal static readonly PreferencePair[] Rows = Records.Select(r => new PreferencePair(Alpaca(r), r.Chosen, r.Rejected)).ToArray();

    /// <summary>The released 7B recipe: lr 5e-7, cosine, warmup 0.1, global batch 128 = 4 x 4 x 8, beta 0.5, 8 epochs, bf16.</summary>
    static readonly TrainOptions Recipe = new() { Beta = 0.5, LearningRate = 5e-7, Epochs = 8, MicroBatchSize = 4, GradientAccumulationSteps = 32,
        MaxLength = 1024, MaxPromptLength = 512, Dtype = "bfloat16", GradientCheckpointing = true, SaveSteps = 100 };

    static Dictionary<string, string> Export(TrlDialect dialect, TrainOptions options, TrlJob job, TempDir dir)
    {
        var launch = TrlExport.Write(dir.Path, Rows, options, "/models/qwen2-7b-sft", dialect, job);
        return launch.Files.ToDictionary(f => f, f => File.ReadAllText(Path.Combine(dir.Path, f)));
    }

    [Theory]
    [InlineData("0.8.5")]
    [InlineData("1.9.0")]
    public void Writes_the_recipe_with_pinned_requirements_the_scripts_and_the_data(string version)
    {
        using var dir = new TempDir();
        var dialect = TrlDialect.Of(version);
        var files = Export(dialect, Recipe, new TrlJob(8), dir);
        string config = files[dialect.ConfigFile];
        Assert.Contains("gradient_accumulation_steps: 4\n", config);          // 4 x 4 x 8 = 128
        Assert.Contains("beta: 0.5\n", config);
        Assert.Contains("learning_rate: 5.0e-07\n", config);
        Assert.Contains("gradient_checkpointing_kwargs:\n  use_reentrant: false\n", config);
        Assert.Contains("loss_type: " + (version == "0.8.5" ? "\"sigmoid\"" : "[\"sigmoid\"]") + "\n", config);
        Assert.Contains(version == "0.8.5" ? "warmup_ratio: 0.1\n" : "warmup_steps: 0.1\n", config);

        var requirements = files["requirements.txt"].Split('\n').Where(l => l.Length > 0 && l[0] != '#').ToList();
        Assert.Contains($"trl=={version}", requirements);
        Assert.All(requirements, r => Assert.Matches(@"^[a-z0-9_-]+==\d+(\.\d+)+$", r));
        foreach (var script in dialect.ShippedScripts) Assert.Equal(TrlDialect.ScriptText(script), files[script]);
        Assert.Contains($"exec accelerate launch --config_file accelerate_zero3.yaml --machine_rank \"${{MACHINE_RANK:-0}}\" {dialect.Script} ", files["launch.sh"]);

        // Data: the template-rendered condition as prompt, the step itself as completion, no EOS anywhere.
        var first = JsonDocument.Parse(files["data/train.jsonl"].Split('\n')[0]).RootElement;
        Assert.Equal(Alpaca(Records[0]), first.GetProperty("prompt").GetString());
        Assert.Equal(" 2+3=5.", first.GetProperty("chosen").GetString());
        Assert.DoesNotContain("<|", files["data/train.jsonl"]);
    }

    [Fact]
    public void Rpo_is_a_weighted_sft_loss_on_1_9_and_the_scripts_own_term_on_0_8_5()
    {
        var rpo = Recipe with { Loss = ["sigmoid", "sft"], LossWeights = [1, 0.25] };
        Assert.Equal(new TrlObjective(["sigmoid", "sft"], [1, 0.25]) is var o ? o.LossTypes : null, TrlObjective.Of(rpo).LossTypes);
        using var a = new TempDir();
        string current = Export(TrlDialect.Current, rpo, new TrlJob(8), a)["dpo_config.yaml"];
        Assert.Contains("loss_type: [\"sigmoid\", \"sft\"]\nloss_weights: [1.0, 0.25]\n", current);
        using var b = new TempDir();
        string paper = Export(TrlDialect.Paper, rpo, new TrlJob(8), b)["stepdpo_config.yaml"];
        Assert.Contains("loss_type: \"sigmoid\"\nrpo_alpha: 0.25\n", paper);
        // A loss 0.8.5 does not have is refused with the way out, not exported to fail on the GPU node.
        using var c = new TempDir();
        var e = Assert.Throws<StepDpoException>(() => Export(TrlDialect.Paper, Recipe with { Loss = ["robust"] }, new TrlJob(8), c));
        Assert.Contains("train.trl.version to 1.9.0", e.Message);
    }

    [Fact]
    public void Offload_and_several_nodes_go_into_the_accelerate_config()
    {
        using var dir = new TempDir();
        var files = Export(TrlDialect.Current, Recipe with { GradientAccumulationSteps = 64 },
            new TrlJob(16, Machines: 2, MachineRank: 1, MainProcessIp: "10.0.0.7", MainProcessPort: 29600, Offload: "all"), dir);
        string acc = files["accelerate_zero3.yaml"];
        Assert.Contains("  offload_optimizer_device: \"cpu\"\n  offload_param_device: \"cpu\"\n", acc);
        Assert.Contains("zero_stage: 3\n", acc);
        Assert.Contains("machine_rank: 1\n", acc);
        Assert.Contains("num_machines: 2\nnum_processes: 16\n", acc);
        Assert.Contains("main_process_ip: \"10.0.0.7\"\nmain_process_port: 29600\n", acc);
        Assert.Contains("--machine_rank \"${MACHINE_RANK:-1}\"", files["launch.sh"]);
        Assert.Contains("gradient_accumulation_steps: 4\n", files["dpo_config.yaml"]);   // 4 x 4 x 16 = 256

        using var one = new TempDir();
        string single = Export(TrlDialect.Current, Recipe, new TrlJob(8, Offload: "optimizer"), one)["accelerate_zero3.yaml"];
        Assert.Contains("  offload_optimizer_device: \"cpu\"\n  offload_param_device: \"none\"\n", single);
        Assert.DoesNotContain("main_process_ip", single);
    }

    [Fact]
    public void Batches_that_do_not_split_and_nodes_that_do_not_divide_the_gpus_are_errors()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<StepDpoException>(() => Export(TrlDialect.Current, new TrainOptions { MicroBatchSize = 4, GradientAccumulationSteps = 3 }, new TrlJob(8), dir));
        Assert.Contains("global batch 12", e.Message);
        e = Assert.Throws<StepDpoException>(() => Export(TrlDialect.Current, Recipe, new TrlJob(8, Machines: 3, MainProcessIp: "h"), dir));
        Assert.Contains("does not split over trl.machines = 3", e.Message);
    }
}
