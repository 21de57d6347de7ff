namespace StepDpo.Cli.Tests;

/// <summary>`stepdpo plan --memory` through the real tool: the question for Qwen2-7B-SFT on one 141 GB GPU, a
/// model on disk, and the errors.</summary>
public class PlanMemoryTests
{
    [Fact]
    public void Qwen2_7b_sft_on_one_141_gb_gpu_fits_full_fine_tuning_only_with_checkpointing_and_lora()
    {
        string ws = Cli.TempWorkspace();
        var r = Cli.Run(ws, "plan", "--memory", "--experiment", "qwen2-7b-sft", "--device", "cuda", "--device-memory", "141");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("7.62 B parameters", r.Stdout);
        string verdict = r.Stdout.Split('\n').Single(l => l.StartsWith("On cuda with 141.0 GB: "));
        Assert.Contains("fits: full fine-tuning + gradient checkpointing (micro-batch ", verdict);
        Assert.Contains("LoRA r16", verdict);
        Assert.Contains("Does not fit: full fine-tuning (", verdict);
    }

    [Fact]
    public void The_tiny_model_fits_a_small_cpu_and_an_unknown_device_memory_is_a_clear_error()
    {
        string ws = Cli.TempWorkspace();
        var r = Cli.Run(ws, "plan", "--memory", "--experiment", "tiny", "--device", "cpu", "--device-memory", "2");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("| sft | full fine-tuning |", r.Stdout);
        Assert.Contains("| sample | generation, KV cache", r.Stdout);
        Assert.DoesNotContain("Does not fit", r.Stdout);

        r = Cli.Run(ws, "plan", "--memory", "--experiment", "tiny", "--device", "tpu");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("--device 'tpu'", r.Stderr);
    }
}
