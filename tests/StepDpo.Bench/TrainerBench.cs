using System.Diagnostics;
using StepDpo.Torch;
using StepDpo.Torch.Checkpoints;
using StepDpo.Torch.Model;
using StepDpo.Torch.Training;
using static TorchSharp.torch;

/// <summary>
/// Step-DPO training cost on this CPU, same run, same model: forward + backward of the DPO loss per pair with the
/// shared-prefix row [prefix | chosen | rejected] against the reference implementation's two full rows, at prefix:step
/// length ratios 2:1, 5:1 and 10:1; then peak memory of one forward + backward with and without activation checkpointing.
/// Model: the real qwen2 decoder at preset "small" (hidden 256, 4 layers, 8 heads / 2 KV heads), random weights.
/// Options: --dtype bf16|fp32 (default bf16), --step N (tokens per completion, default 64), --pairs N (per micro-batch,
/// default 4), --iters N (timed iterations, default 3), --vocab N (default 4096), --preset tiny|small.
/// Run: dotnet run -c Release --project tests/StepDpo.Bench -- trainer
/// </summary>
public static class TrainerBench
{
    public static void Run(string[] args)
    {
        string? Option(string name) => Array.IndexOf(args, name) is int i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        var dtype = (Option("--dtype") ?? "bf16") is "fp32" or "float32" ? ScalarType.Float32 : ScalarType.BFloat16;
        int step = int.Parse(Option("--step") ?? "64");
        int pairsPerBatch = int.Parse(Option("--pairs") ?? "4");
        int iters = int.Parse(Option("--iters") ?? "3");
        int vocab = int.Parse(Option("--vocab") ?? "4096");
        string preset = Option("--preset") ?? "small";

        var config = Presets.Create("qwen2", preset, vocab);
        var inner = new CausalLM(config, dtype);
        RandomInit.Apply(inner, 1);
        using var model = new CheckpointedCausalLM(inner);
        model.Module.train();
        long parameters = inner.parameters().Sum(p => p.numel());
        Console.WriteLine($"model: qwen2/{preset}, {parameters / 1e6:F2} M parameters, {dtype}, vocab {vocab}; " +
                          $"{pairsPerBatch} pairs per micro-batch, step {step} tokens; torch threads {get_num_threads()}, {Environment.ProcessorCount} cores");
        Console.WriteLine();
        Console.WriteLine("| prefix:step | layout | ms / pair | pair tokens / s | forwarded tokens / pair | speed-up |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (int ratio in new[] { 2, 5, 10 })
        {
            var pairs = Pairs(pairsPerBatch, ratio * step, step, vocab, seed: ratio);
            double full = MsPerPair(model, pairs, shared: false, iters);
            double shared = MsPerPair(model, pairs, shared: true, iters);
            int content = ratio * step + 2 * step;
            Console.WriteLine($"| {ratio}:1 | two full sequences | {full:F1} | {content / full * 1000:F0} | {pairs[0].FullLength} | 1.00 |");
            Console.WriteLine($"| {ratio}:1 | shared prefix | {shared:F1} | {content / shared * 1000:F0} | {pairs[0].SharedLength} | {full / shared:F2} |");
        }

        Console.WriteLine();
        Console.WriteLine("| activation checkpointing | layout | RSS held by the graph after forward (MB) | ms / pair |");
        Console.WriteLine("|---|---|---|---|");
        var longPairs = Pairs(pairsPerBatch, 10 * step, step, vocab, seed: 99);
        foreach (bool checkpointing in new[] { false, true })
        {
            model.GradientCheckpointing = checkpointing;
            MsPerPair(model, longPairs, shared: true, 1); // warm the allocator for this configuration
            double peak = HeldAfterForwardMegabytes(model, longPairs);
            double ms = MsPerPair(model, longPairs, shared: true, iters);
            Console.WriteLine($"| {(checkpointing ? "on" : "off")} | shared prefix 10:1 | {peak:F0} | {ms:F1} |");
        }
        model.GradientCheckpointing = false;
    }

    static List<TokenizedPair> Pairs(int count, int prefix, int step, int vocab, int seed)
    {
        var rng = new Random(seed);
        int[] Draw(int n) => Enumerable.Range(0, n).Select(_ => rng.Next(vocab)).ToArray();
        return Enumerable.Range(0, count).Select(_ => new TokenizedPair(Draw(prefix), Draw(step), Draw(step))).ToList();
    }

    static void FwdBwd(ICausalLM model, List<TokenizedPair> pairs, bool shared)
    {
        using var scope = NewDisposeScope();
        foreach (var p in model.Module.parameters()) p.grad = null;
        using var batch = SharedPrefixBatch.Build(pairs, shared);
        var lp = SharedPrefixBatch.Forward(model, batch);
        var output = DpoLoss.Compute(DpoLossType.Sigmoid, 0.1, 0, lp.Chosen, lp.Rejected, lp.Chosen.detach() - 1, lp.Rejected.detach());
        output.Losses.mean().backward();
    }

    static double MsPerPair(ICausalLM model, List<TokenizedPair> pairs, bool shared, int iters)
    {
        FwdBwd(model, pairs, shared); // warm-up
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < iters; i++) FwdBwd(model, pairs, shared);
        return sw.Elapsed.TotalMilliseconds / iters / pairs.Count;
    }

    /// <summary>Resident memory the autograd graph holds between forward and backward (activations saved for backward,
    /// what checkpointing trims), as VmRSS after the forward minus before it, median of three runs.</summary>
    static double HeldAfterForwardMegabytes(ICausalLM model, List<TokenizedPair> pairs)
    {
        var samples = new List<double>();
        for (int i = 0; i < 3; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            using var scope = NewDisposeScope();
            foreach (var p in model.Module.parameters()) p.grad = null;
            using var batch = SharedPrefixBatch.Build(pairs, true);
            long before = StatusKb("VmRSS");
            var lp = SharedPrefixBatch.Forward(model, batch);
            var loss = DpoLoss.Compute(DpoLossType.Sigmoid, 0.1, 0, lp.Chosen, lp.Rejected, lp.Chosen.detach() - 1, lp.Rejected.detach()).Losses.mean();
            samples.Add((StatusKb("VmRSS") - before) / 1024.0);
            loss.backward();
        }
        return samples.Order().ElementAt(1);
    }

    static long StatusKb(string key) =>
        long.Parse(File.ReadLines("/proc/self/status").First(l => l.StartsWith(key + ":"))[(key.Length + 1)..].Trim().Split(' ')[0]);
}
