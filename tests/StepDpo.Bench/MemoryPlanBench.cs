using System.Globalization;
using StepDpo.Bench.Probes;
using StepDpo.Torch.Training;
using static TorchSharp.torch;

namespace StepDpo.Bench;

/// <summary>
/// The memory plan (Training/MemoryPlan.cs) against measured peak memory on this CPU: for three model sizes, one Step-DPO
/// step (bf16, AdamW, shared-prefix pairs of 384 prompt + 64 + 64 completion tokens, micro-batch 2 x accumulation 2) with
/// full fine-tuning, full fine-tuning with activation checkpointing, and LoRA (rank 16 on all 7 projections), each in a
/// fresh process (peak RSS above the loaded runtime). The last columns compare LoRA's trainable state with full
/// fine-tuning's. Options: --models a,b (default: all three), --prompt N, --completion N, --micro N, --accumulation N,
/// --components (instead of whole steps, the plan's layer and LM-head terms, each measured alone).
/// Run: STEPDPO_THREADS=1 dotnet run -c Release --project tests/StepDpo.Bench -- memory
/// </summary>
public static class MemoryPlanBench
{
    public static void Run(string[] args)
    {
        string Arg(string name, string fallback) => BenchArgs.Option(args, name, fallback);
        var models = Arg("--models", string.Join(",", BenchModels.Names)).Split(',');
        int prompt = int.Parse(Arg("--prompt", "384")), completion = int.Parse(Arg("--completion", "64"));
        int micro = int.Parse(Arg("--micro", "2")), accumulation = int.Parse(Arg("--accumulation", "2"));
        if (args.Contains("--components"))
        {
            Components(models, prompt, completion, micro);
            return;
        }
        Console.WriteLine($"memory plan vs measured peak: Step-DPO step, bf16, pairs of {prompt} + {completion} + {completion} tokens " +
            $"(shared prefix), micro-batch {micro} x accumulation {accumulation}; STEPDPO_THREADS={BenchArgs.Threads}, " +
            $"load average {MemoryProbe.LoadAverage()}");
        Console.WriteLine();
        Console.WriteLine("| model | parameters | run | trainable | plan: weights / grads / optimizer / activations (MB) | plan MB | measured MB (tensors) | measured / plan | measured MB (glibc default) |");
        Console.WriteLine("|---|---:|---|---:|---|---:|---:|---:|---:|");
        foreach (var name in models)
        {
            BenchModels.Checkpoint(name);
            var plan = new MemoryPlan(BenchModels.Config(name), ScalarType.BFloat16);
            var shape = new MicroBatchShape(micro, prompt + 2 * completion, (long)micro * 2 * completion);
            foreach (var (run, checkpointing, rank) in new[] { ("full", false, 0), ("full + checkpointing", true, 0), ("LoRA r16", false, 16) })
            {
                var lora = rank > 0 ? new LoraOptions { Rank = rank, Alpha = 2 * rank, TargetModules = ProbeScenarios.AllProjections } : null;
                var estimate = plan.Training(shape, accumulation, checkpointing, lora);
                Dictionary<string, double> Measure(string? threshold) => MemoryProbe.Run("train", threshold, ("model", name),
                    ("micro", micro), ("accumulation", accumulation), ("prompt", prompt), ("completion", completion),
                    ("checkpointing", checkpointing), ("lora", rank), ("steps", 1));
                var measured = Measure(MemoryProbe.TensorsOnly);
                double glibc = Measure(null)["peak_mb"];
                double mb = measured["peak_mb"], planMb = estimate.Total / 1048576.0;
                Console.WriteLine($"| {name} | {plan.Parameters / 1e6:F1}M | {run} | {measured["trainable"] / 1e6:F2}M | " +
                    $"{Mb(estimate.Weights)} / {Mb(estimate.Gradients)} / {Mb(estimate.OptimizerStates)} / {Mb(estimate.Activations)} | " +
                    $"{planMb:F0} | {mb:F0} | {mb / planMb:F2} | {glibc:F0} |");
            }
        }
        Console.WriteLine($"\nload average at the end: {MemoryProbe.LoadAverage()}");
    }

    /// <summary>The plan's two activation terms one by one: what one decoder layer keeps (live allocations after its
    /// forward) and its backward's peak, and the LM head's forward and backward peaks.</summary>
    static void Components(string[] models, int prompt, int completion, int micro)
    {
        Console.WriteLine();
        Console.WriteLine("| model | run | layer keeps MB (measured / plan) | layer backward peak MB (measured / plan) | LM head forward MB (measured / plan) | LM head backward MB (measured / plan) |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (var name in models)
        {
            var config = BenchModels.Config(name);
            var plan = new MemoryPlan(config, ScalarType.BFloat16);
            var shape = new MicroBatchShape(micro, prompt + 2 * completion, (long)micro * 2 * completion);
            var head = MemoryProbe.Run("logits", MemoryProbe.TensorsOnly, ("micro", micro), ("prompt", prompt), ("completion", completion),
                ("v", config.VocabSize), ("h", config.HiddenSize));
            foreach (var rank in new[] { 0, 16 })
            {
                var lora = rank > 0 ? new LoraOptions { Rank = rank, TargetModules = ProbeScenarios.AllProjections } : null;
                var layer = MemoryProbe.Run("layer", MemoryProbe.TensorsOnly, ("model", name), ("micro", micro), ("prompt", prompt),
                    ("completion", completion), ("lora", rank));
                long keptBytes = plan.LayerBytesPerToken(shape.Width, lora) * shape.Tokens;
                double keeps = keptBytes / 1048576.0, backward = (keptBytes + MemoryPlan.LayerTemporaries(keptBytes)) / 1048576.0;
                Console.WriteLine($"| {name} | {(rank > 0 ? "LoRA r16" : "full")} | {layer["layer_kept_mb"]:F1} / {keeps:F1} | " +
                    $"{layer["layer_backward_hwm_mb"]:F1} / {backward:F1} | " +
                    $"{head["forward_hwm_mb"]:F0} / {plan.LogitBytes(shape, backward: false) / 1048576.0:F0} | " +
                    $"{head["backward_hwm_mb"]:F0} / {plan.LogitBytes(shape, backward: true) / 1048576.0:F0} |");
            }
        }
    }

    static string Mb(long bytes) => (bytes / 1048576.0).ToString("F0", CultureInfo.InvariantCulture);
}
