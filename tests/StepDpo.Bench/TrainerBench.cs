using System.Diagnostics;
using StepDpo.Torch;
using StepDpo.Torch.Checkpoints;
using StepDpo.Torch.Model;
using StepDpo.Torch.Training;
using static TorchSharp.torch;

/// <summary>
/// Step-DPO training cost on this CPU, same run, same model: CPU time of forward + backward of the DPO loss per pair with the
/// shared-prefix row [prefix | chosen | rejected] against the reference implementation's two full rows, at prefix:step
/// length ratios 2:1, 5:1 and 10:1; then peak memory of one forward + backward with and without activation checkpointing.
/// Model: the real qwen2 decoder at preset "small" (hidden 256, 4 layers, 8 heads / 2 KV heads), random weights.
/// Options: --dtype bf16|fp32 (default bf16), --step N (tokens per completion, default 64), --pairs N (per micro-batch,
/// default 4), --iters N (timed iterations, default 3), --vocab N (default 4096), --preset tiny|small, --only-memory.
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

        string? probe = Option("--memory-probe");
        bool onlyMemory = args.Contains("--only-memory");
        var config = Presets.Create("qwen2", preset, vocab);
        var inner = new CausalLM(config, dtype);
        RandomInit.Apply(inner, 1);
        using var model = new CheckpointedCausalLM(inner);
        model.Module.train();
        long parameters = inner.parameters().Sum(p => p.numel());
        if (probe is not null)
        {
            // Child process: one forward + backward in a fresh address space, so the peak RSS is this run's alone.
            model.GradientCheckpointing = probe == "on";
            var probePairs = Pairs(pairsPerBatch, 10 * step, step, vocab, seed: 99);
            long baseline = StatusKb("VmRSS");
            FwdBwd(model, probePairs, shared: true);
            Console.WriteLine($"{(StatusKb("VmHWM") - baseline) / 1024.0:F1}");
            return;
        }
        Console.WriteLine($"model: qwen2/{preset}, {parameters / 1e6:F2} M parameters, {dtype}, vocab {vocab}; " +
                          $"{pairsPerBatch} pairs per micro-batch, step {step} tokens; torch threads {get_num_threads()}, {Environment.ProcessorCount} cores");
        Console.WriteLine();
        Console.WriteLine("| prefix:step | layout | CPU ms / pair | pair tokens / CPU-s | forwarded tokens / pair | speed-up |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (int ratio in onlyMemory ? [] : new[] { 2, 5, 10 })
        {
            var pairs = Pairs(pairsPerBatch, ratio * step, step, vocab, seed: ratio);
            double full = MsPerPair(model, pairs, shared: false, iters);
            double shared = MsPerPair(model, pairs, shared: true, iters);
            int content = ratio * step + 2 * step;
            Console.WriteLine($"| {ratio}:1 | two full sequences | {full:F1} | {content / full * 1000:F0} | {pairs[0].FullLength} | 1.00 |");
            Console.WriteLine($"| {ratio}:1 | shared prefix | {shared:F1} | {content / shared * 1000:F0} | {pairs[0].SharedLength} | {full / shared:F2} |");
        }

        Console.WriteLine();
        Console.WriteLine("| activation checkpointing | layout | peak RSS of forward+backward above the loaded model (MB, fresh process) | CPU ms / pair |");
        Console.WriteLine("|---|---|---|---|");
        var longPairs = Pairs(pairsPerBatch, 10 * step, step, vocab, seed: 99);
        foreach (bool checkpointing in new[] { false, true })
        {
            model.GradientCheckpointing = checkpointing;
            double peak = PeakInFreshProcess(checkpointing);
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
        var output = DpoLoss.Compute(DpoLossType.Sigmoid, new LossSettings(0.1),
            new PairLogps(lp.Chosen, lp.Rejected, lp.Chosen.detach() - 1, lp.Rejected.detach(), ones_like(lp.Chosen), ones_like(lp.Rejected)));
        output.Loss.backward();
    }

    /// <summary>CPU milliseconds (user + system of this process) per pair: on a machine shared with other jobs the wall
    /// clock measures the neighbours, the CPU time measures the work.</summary>
    static double MsPerPair(ICausalLM model, List<TokenizedPair> pairs, bool shared, int iters)
    {
        FwdBwd(model, pairs, shared); // warm-up
        var process = Process.GetCurrentProcess();
        process.Refresh();
        var cpu = process.TotalProcessorTime;
        for (int i = 0; i < iters; i++) FwdBwd(model, pairs, shared);
        process.Refresh();
        return (process.TotalProcessorTime - cpu).TotalMilliseconds / iters / pairs.Count;
    }

    /// <summary>Runs this benchmark again with --memory-probe in a child process and reads the peak RSS it reports: in a
    /// warm process freed tensors stay in the allocator's arenas and hide the activations from RSS.</summary>
    static double PeakInFreshProcess(bool checkpointing)
    {
        string[] cmd = Environment.GetCommandLineArgs();
        bool viaDotnet = Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet";
        var psi = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true };
        foreach (var a in viaDotnet ? cmd : cmd[1..]) if (a != "--only-memory") psi.ArgumentList.Add(a);
        psi.ArgumentList.Add("--memory-probe");
        psi.ArgumentList.Add(checkpointing ? "on" : "off");
        using var child = Process.Start(psi)!;
        string output = child.StandardOutput.ReadToEnd().Trim();
        child.WaitForExit();
        return double.Parse(output.Split('\n')[^1], System.Globalization.CultureInfo.InvariantCulture);
    }

    static long StatusKb(string key) =>
        long.Parse(File.ReadLines("/proc/self/status").First(l => l.StartsWith(key + ":"))[(key.Length + 1)..].Trim().Split(' ')[0]);
}
