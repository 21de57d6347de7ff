using StepDpo.Bench.Probes;
using StepDpo.Torch.Training;
using static TorchSharp.torch;

namespace StepDpo.Bench;

/// <summary>
/// Qwen2-0.5B's real shapes on this CPU (random bf16 weights with its config.json: hidden 896, 24 layers, 14 heads, 2 KV
/// heads, MLP 4864, vocabulary 151936, tied embeddings): a Step-DPO training step (full fine-tuning, AdamW, shared-prefix
/// pairs of 384 prompt + 64 + 64 step tokens, micro-batch 2 x accumulation 2), the reference pass over 8 pairs and greedy
/// generation (8 prompts of 128 tokens, 64 new tokens, KV cache), each in a fresh process: seconds, tokens per second
/// (wall clock and per CPU-second: the machine is shared), peak memory above the runtime next to the memory plan's
/// estimate. Options: --model NAME (default qwen2-0.5b), --steps N (timed training steps, default 2: the last is reported).
/// Run: STEPDPO_THREADS=1 dotnet run -c Release --project tests/StepDpo.Bench -- realshapes
/// </summary>
public static class RealShapesBench
{
    public static void Run(string[] args)
    {
        string name = BenchArgs.Option(args, "--model", "qwen2-0.5b");
        int steps = int.Parse(BenchArgs.Option(args, "--steps", "2"));
        const int prompt = 384, completion = 64, micro = 2, accumulation = 2, refPairs = 8, genBatch = 8, genPrompt = 128, genNew = 64;
        var config = BenchModels.Config(name);
        var plan = new MemoryPlan(config, ScalarType.BFloat16);
        BenchModels.Checkpoint(name);
        Console.WriteLine($"{name}: {plan.Parameters / 1e6:F1}M parameters, bf16; STEPDPO_THREADS={BenchArgs.Threads}, " +
            $"{Environment.ProcessorCount} cores, load average {MemoryProbe.LoadAverage()}");
        Console.WriteLine();
        Console.WriteLine("| work | seconds (wall) | CPU seconds | tokens | tokens/s (wall) | tokens per CPU-second | peak MB | plan MB | peak / plan |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");

        var shape = new MicroBatchShape(micro, prompt + 2 * completion, (long)micro * 2 * completion);
        var train = MemoryProbe.Run("train", MemoryProbe.TensorsOnly, ("model", name), ("micro", micro), ("accumulation", accumulation),
            ("prompt", prompt), ("completion", completion), ("checkpointing", false), ("lora", 0), ("steps", steps));
        Row($"Step-DPO step (full fine-tuning, {micro} x {accumulation} pairs)", train["step_wall_s"], train["step_cpu_s"], train["tokens_per_step"],
            train["peak_mb"], plan.Training(shape, accumulation, checkpointing: false, lora: null).Total);

        var reference = MemoryProbe.Run("reference", MemoryProbe.TensorsOnly, ("model", name), ("pairs", refPairs), ("micro", micro),
            ("prompt", prompt), ("completion", completion));
        Row($"reference pass ({refPairs} pairs, micro-batch {micro})", reference["wall_s"], reference["cpu_s"], reference["tokens"],
            reference["peak_mb"], plan.Reference(shape).Total);

        var generate = MemoryProbe.Run("generate", MemoryProbe.TensorsOnly, ("model", name), ("batch", genBatch), ("prompt", genPrompt), ("new", genNew));
        Row($"generation ({genBatch} x {genPrompt} prompt tokens, {genNew} new, greedy, KV cache)", generate["wall_s"], generate["cpu_s"],
            generate["new_tokens"], generate["peak_mb"], plan.Generation(genBatch, genPrompt, genNew).Total);
        Console.WriteLine("\ntokens: forwarded per training step and reference pass, generated for generation (prefill included in its time).");
        Console.WriteLine($"load average at the end: {MemoryProbe.LoadAverage()}");
    }

    static void Row(string work, double wall, double cpu, double tokens, double peakMb, long planBytes)
    {
        double planMb = planBytes / 1048576.0;
        Console.WriteLine($"| {work} | {wall:F1} | {cpu:F1} | {tokens:F0} | {tokens / wall:F0} | {tokens / cpu:F0} | {peakMb:F0} | {planMb:F0} | {peakMb / planMb:F2} |");
    }
}
