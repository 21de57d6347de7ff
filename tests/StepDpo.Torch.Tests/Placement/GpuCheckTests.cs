using StepDpo.GpuCheck;
using static TorchSharp.torch;

namespace StepDpo.Torch.Tests.Placement;

/// <summary>The GPU check is real code that this machine can run on its CPU: every hot path against the CPU, then the
/// Qwen2-0.5B-width Step-DPO bench at toy lengths. (On a CUDA machine: ./build.sh GpuCheck, see its run.sh.)</summary>
public class GpuCheckTests
{
    [Fact]
    public void Every_hot_path_of_the_gpu_check_passes_on_the_cpu()
    {
        var lines = new List<string>();
        int failures = HotPaths.Run(CPU, lines.Add);
        Assert.True(failures == 0, string.Join("\n", lines));
        Assert.Equal(11, lines.Count(l => l.StartsWith("ok ", StringComparison.Ordinal)));
    }

    [Fact]
    public void The_step_dpo_bench_runs_and_reports_throughput_mfu_and_memory()
    {
        var lines = new List<string>();
        var options = new BenchOptions { Small = true, Steps = 2, Pairs = 1, Prompt = 12, Completion = 3 };
        Assert.Equal(0, StepDpoBench.Run(CPU, options, lines.Add));
        string text = string.Join("\n", lines);
        Assert.Contains("tokens/s (median of 1 after one warm-up step)", text);
        Assert.Contains("-> MFU", text);
        Assert.Contains("peak memory:", text);
        Assert.Contains("new tokens/s", text);
    }
}
