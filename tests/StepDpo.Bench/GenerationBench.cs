using System.Diagnostics;
using StepDpo.Torch;
using StepDpo.Torch.Checkpoints;
using StepDpo.Torch.Generation;
using StepDpo.Torch.Model;
using static TorchSharp.torch;

namespace StepDpo.Bench;

/// <summary>
/// Generation speed on this CPU with a randomly initialised model: prefill tokens/s and decode tokens/s at batch 1, 8
/// and 32, each next to the same greedy generation recomputed without the KV cache (ratio), and resident memory.
/// Options: --arch qwen2|llama (llama) --preset tiny|small (small) --vocab N (32000) --dtype float32|bfloat16 (bfloat16)
/// --prompt N (64) --new N (64) --batches 1,8,32 --threads N (libtorch default). Rates are wall-clock; on a shared
/// machine compare the CPU-seconds column too (tokens per second of CPU time this process got).
/// </summary>
public static class GenerationBench
{
    public static void Run(string[] args)
    {
        string Arg(string name, string fallback)
        {
            int i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
        }
        string arch = Arg("--arch", "llama"), preset = Arg("--preset", "small");
        int vocab = int.Parse(Arg("--vocab", "32000")), promptLength = int.Parse(Arg("--prompt", "64"));
        int newTokens = int.Parse(Arg("--new", "64"));
        var dtype = Checkpoint.ParseDType(Arg("--dtype", "bfloat16"));
        var batches = Arg("--batches", "1,8,32").Split(',').Select(int.Parse).ToArray();
        if (Arg("--threads", "") is { Length: > 0 } threads) set_num_threads(int.Parse(threads));

        var config = Presets.Create(arch, preset, vocab);
        using var model = new CausalLM(config, dtype);
        RandomInit.Apply(model, 1);
        model.eval();
        var engine = new GenerationEngine(model);
        long parameters = model.parameters().Sum(p => p.NumberOfElements);
        Console.WriteLine($"generation bench: {arch}/{preset}, {parameters:N0} parameters, vocab {vocab}, {dtype}, " +
            $"{get_num_threads()} threads, prompt {promptLength} tokens, {newTokens} new tokens, greedy");
        Console.WriteLine($"RSS after load: {Rss() / 1e6:F0} MB");
        Console.WriteLine();
        Console.WriteLine("| batch | prefill tok/s | decode tok/s (KV cache) | decode tok/s (no cache) | ratio | decode tok/CPU-s (cache / no cache) | KV cache MB | RSS MB |");
        Console.WriteLine("|------:|--------------:|------------------------:|------------------------:|------:|------------------------------------:|------------:|-------:|");

        var rng = new SplitMix64(3);
        Generate(engine, Prompts(1, promptLength, vocab, rng), 4, true); // warm-up: first calls load kernels
        foreach (int batch in batches)
        {
            var prompts = Prompts(batch, promptLength, vocab, rng);
            var (prefill, prefillCpu) = Generate(engine, prompts, 1, true);
            var (cached, cachedCpu) = Generate(engine, prompts, newTokens, true);
            long rss = Rss();
            // Without the cache every step re-runs the whole sequence: fewer steps keep it affordable, and its per-token
            // rate is the honest comparison (it only gets worse as sequences grow).
            int slowTokens = Math.Min(newTokens, 16);
            var (uncachedPrefill, uncachedPrefillCpu) = Generate(engine, prompts, 1, false);
            var (uncached, uncachedCpu) = Generate(engine, prompts, slowTokens, false);
            double prefillRate = batch * promptLength / prefill;
            double decodeRate = batch * (newTokens - 1) / Math.Max(1e-9, cached - prefill);
            double uncachedRate = batch * (slowTokens - 1) / Math.Max(1e-9, uncached - uncachedPrefill);
            double decodeCpuRate = batch * (newTokens - 1) / Math.Max(1e-9, cachedCpu - prefillCpu);
            double uncachedCpuRate = batch * (slowTokens - 1) / Math.Max(1e-9, uncachedCpu - uncachedPrefillCpu);
            double cacheMb = 2.0 * config.NumHiddenLayers * batch * config.NumKeyValueHeads * (promptLength + newTokens)
                * config.HeadDim * (dtype == ScalarType.Float32 ? 4 : 2) / 1e6;
            Console.WriteLine($"| {batch,5} | {prefillRate,13:F0} | {decodeRate,23:F0} | {uncachedRate,23:F0} | " +
                $"{decodeRate / uncachedRate,5:F1} | {$"{decodeCpuRate:F0} / {uncachedCpuRate:F0}",35} | {cacheMb,11:F1} | {rss / 1e6,6:F0} |");
        }
        Console.WriteLine($"\npeak RSS {Process.GetCurrentProcess().PeakWorkingSet64 / 1e6:F0} MB");
    }

    static List<int[]> Prompts(int count, int length, int vocab, SplitMix64 rng) =>
        Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, length).Select(_ => (int)(rng.NextULong() % (ulong)vocab)).ToArray()).ToList();

    /// <summary>Wall and CPU seconds for one greedy generation of <paramref name="newTokens"/> tokens per prompt.</summary>
    static (double Wall, double Cpu) Generate(GenerationEngine engine, List<int[]> prompts, int newTokens, bool useCache)
    {
        var options = new SamplingOptions
        {
            Temperature = 0, MaxNewTokens = newTokens, IgnoreEos = true, UseKvCache = useCache, MaxBatchSize = prompts.Count,
        };
        var process = Process.GetCurrentProcess();
        var cpu = process.TotalProcessorTime;
        var watch = Stopwatch.StartNew();
        engine.GenerateIds(prompts, options);
        process.Refresh();
        return (watch.Elapsed.TotalSeconds, (process.TotalProcessorTime - cpu).TotalSeconds);
    }

    static long Rss()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        return Process.GetCurrentProcess().WorkingSet64;
    }
}
