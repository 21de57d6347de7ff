using StepDpo.Bench.Probes;

namespace StepDpo.Bench;

/// <summary>
/// Peak host memory to load a bf16 checkpoint, in a fresh process each (peak RSS above the loaded runtime, glibc's
/// default allocator), as a multiple of the checkpoint's size on disk: straight into bf16 weights (what the stages do
/// now: streamed from the file a chunk at a time), into fp32 weights (twice the size, by necessity), and the old train
/// stage's way (load in fp32, convert to bf16 afterwards). Options: --models a,b (default: llama-110m,qwen2-0.5b).
/// Run: STEPDPO_THREADS=1 dotnet run -c Release --project tests/StepDpo.Bench -- checkpoint
/// </summary>
public static class CheckpointBench
{
    public static void Run(string[] args)
    {
        var models = BenchArgs.Option(args, "--models", "llama-110m,qwen2-0.5b").Split(',');
        Console.WriteLine($"bf16 checkpoint load: peak RSS above the runtime / file size; load average {MemoryProbe.LoadAverage()}");
        Console.WriteLine();
        Console.WriteLine("| model | file MB | into | peak MB | peak / file | CPU s |");
        Console.WriteLine("|---|---:|---|---:|---:|---:|");
        foreach (var name in models)
        {
            BenchModels.Checkpoint(name);
            foreach (var (way, label) in new[] { ("direct", "bf16 weights (streamed)"), ("fp32", "fp32 weights"), ("fp32-then-bf16", "fp32, then converted to bf16 (the old train stage)") })
            {
                var r = MemoryProbe.Run("load", mmapThreshold: null, ("model", name), ("way", way));
                Console.WriteLine($"| {name} | {r["file_mb"]:F0} | {label} | {r["peak_mb"]:F0} | {r["peak_mb"] / r["file_mb"]:F2} | {r["cpu_s"]:F1} |");
            }
        }
    }
}
