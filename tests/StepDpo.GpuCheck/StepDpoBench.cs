using System.Diagnostics;
using StepDpo.Torch.Devices;
using StepDpo.Torch.Generation;
using StepDpo.Torch.Model;
using StepDpo.Torch.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace StepDpo.GpuCheck;

public sealed record BenchOptions
{
    public bool Small { get; init; }
    public int Steps { get; init; } = 6;
    public int Pairs { get; init; } = 8;
    public int Prompt { get; init; } = 512;
    public int Completion { get; init; } = 64;
    public double? PeakTflops { get; init; }
    public bool Checkpointing { get; init; }
}

/// <summary>
/// Step-DPO at Qwen2-0.5B's shapes (hidden 896, 24 layers, 14 heads / 2 KV heads, MLP 4864, vocabulary 151936, tied
/// embeddings; random weights, nothing downloaded), bf16 weights with fp32 AdamW state, shared-prefix rows: the reference
/// pass, then training steps through the real trainer, then batched greedy decoding. Prints tokens/s, model FLOPs
/// utilisation and peak memory.
/// MFU = model FLOPs / time / peak, model FLOPs per token = 6 N (forward + backward over the N matmul weights, the tied
/// LM head included) + 12 L d T (attention scores and values over a row of T tokens, PaLM's formula). The peak is the
/// GPU's nominal dense bf16 rate (from its name, or --peak-tflops), and, to be independent of the table, the rate a
/// large bf16 matmul reaches on the same device in this run. Peak memory on CUDA is total - free from the driver (libtorch's
/// caching allocator keeps its high-water mark; the CUDA context is included); on the CPU, the process's peak RSS.
/// </summary>
public static class StepDpoBench
{
    public static ModelConfig Qwen2_0_5B(bool small) => new()
    {
        ModelType = "qwen2", VocabSize = small ? 8192 : 151936, HiddenSize = 896, IntermediateSize = 4864,
        NumHiddenLayers = small ? 2 : 24, NumAttentionHeads = 14, NumKeyValueHeads = 2, HeadDim = 64, RmsNormEps = 1e-6,
        RopeTheta = 1e6, TieWordEmbeddings = true, QkvBias = true, OutputBias = false, MaxPositionEmbeddings = 32768,
    };

    public static int Run(Device device, BenchOptions o, Action<string> log)
    {
        var config = Qwen2_0_5B(o.Small);
        log($"\n== Step-DPO at Qwen2-0.5B's shapes{(o.Small ? " (--small: 2 layers, vocabulary 8192)" : "")} on {device}: " +
            $"{o.Pairs} pairs per step of prompt {o.Prompt} + chosen {o.Completion} + rejected {o.Completion} tokens (one shared-prefix row each), " +
            $"bf16, gradient checkpointing {(o.Checkpointing ? "on" : "off")}");
        long baseline = UsedBytes(device);
        random.manual_seed(1);
        using var model = new CausalLM(config, ScalarType.BFloat16, device);
        InitOnDevice(model);
        long parameters = model.parameters().Sum(p => p.numel());
        log($"model: {parameters / 1e6:F1} M parameters on {model.Device}");

        var rng = new Random(3);
        int[] Draw(int n) => Enumerable.Range(0, n).Select(_ => rng.Next(config.VocabSize)).ToArray();
        var pairs = Enumerable.Range(0, o.Pairs * (o.Steps + 1)).Select(_ => new TokenizedPair(Draw(o.Prompt), Draw(o.Completion), Draw(o.Completion))).ToList();
        int rowTokens = o.Prompt + 2 * o.Completion;
        double flopsPerToken = 6.0 * parameters + 12.0 * config.NumHiddenLayers * config.NumAttentionHeads * config.HeadDim * rowTokens;

        var clock = Stopwatch.StartNew();
        var refs = ReferenceLogProbs.Compute(model, pairs, "gpu-check", o.Pairs);
        Synchronize(device);
        double refSeconds = clock.Elapsed.TotalSeconds;
        log($"reference pass: {pairs.Count * rowTokens / refSeconds:F0} tokens/s ({pairs.Count} pairs, {refSeconds:F1} s, forward only)");
        long peak = UsedBytes(device);

        var opts = new TrainOptions
        {
            Loss = ["sigmoid"], Beta = 0.1, LearningRate = 1e-6, WarmupRatio = 0, Epochs = 1, MicroBatchSize = o.Pairs,
            GradientAccumulationSteps = 1, Dtype = "bfloat16", GradientCheckpointing = o.Checkpointing,
            MaxLength = rowTokens + 1, MaxPromptLength = o.Prompt + 1, Seed = 1,
        };
        var steps = new List<StepMetrics>();
        using var stop = new CancellationTokenSource();
        string dir = Directory.CreateTempSubdirectory("stepdpo-gpu-bench-").FullName;
        int failures = 0;
        try
        {
            // Runs the real trainer and stops it after the measured steps, before its final save (7 GB of optimiser state).
            StepDpoTrainer.Train(model, pairs, refs, opts, dir, s =>
            {
                steps.Add(s);
                peak = Math.Max(peak, UsedBytes(device));
                if (steps.Count >= o.Steps) stop.Cancel();
            }, stop.Token, _ => Task.CompletedTask);
        }
        catch (OperationCanceledException) { }
        catch (Exception e)
        {
            failures++;
            log($"FAIL Step-DPO step: {e.GetBaseException().Message.Split('\n')[0]}");
        }
        finally { Directory.Delete(dir, recursive: true); }

        if (steps.Count > 1)
        {
            // The first step pays for kernel selection and allocator growth; the others are the steady state.
            var steady = steps.Skip(1).Select(s => s["tokens_per_second"]).Order().ToArray();
            double tokensPerSecond = steady[steady.Length / 2];
            double achieved = tokensPerSecond * flopsPerToken;
            double matmul = MatmulTflops(device, o.Small);
            double? nominal = o.PeakTflops ?? NominalBf16Tflops(device);
            log($"Step-DPO step: {o.Pairs * rowTokens / tokensPerSecond:F3} s per step, {tokensPerSecond:F0} tokens/s (median of {steady.Length} after one warm-up step), " +
                $"loss {steps[^1]["loss"]:F4}, grad norm {steps[^1]["grad_norm"]:F3}");
            log($"model FLOPs: {flopsPerToken / 1e9:F2} GFLOP per token, {achieved / 1e12:F2} TFLOP/s achieved; " +
                $"bf16 matmul on this device reaches {matmul:F1} TFLOP/s -> MFU {achieved / 1e12 / matmul:P1} of that" +
                (nominal is double n ? $", {achieved / 1e12 / n:P1} of the nominal {n:F0} TFLOP/s" : " (nominal peak unknown: pass --peak-tflops)"));
        }
        else if (failures == 0) { failures++; log("FAIL Step-DPO step: fewer than two steps ran"); }
        log($"peak memory: {CudaDriver.Gib(peak)} ({CudaDriver.Gib(peak - baseline)} above the {CudaDriver.Gib(baseline)} in use before the model)");

        failures += Generation(model, config, device, o, log);
        return failures;
    }

    /// <summary>Batched greedy decoding with the KV cache: 16 prompts of --prompt tokens, 64 new tokens each.</summary>
    static int Generation(CausalLM model, ModelConfig config, Device device, BenchOptions o, Action<string> log)
    {
        try
        {
            var rng = new Random(9);
            var prompts = Enumerable.Range(0, 16).Select(_ => Enumerable.Range(0, o.Prompt).Select(_ => rng.Next(config.VocabSize)).ToArray()).ToList();
            var options = new SamplingOptions { Temperature = 0, MaxNewTokens = o.Small ? 8 : 64, IgnoreEos = true, MaxBatchSize = 16 };
            var engine = new GenerationEngine(model);
            engine.GenerateIds(prompts.Take(2).ToList(), options with { MaxNewTokens = 2 }); // warm-up
            var clock = Stopwatch.StartNew();
            var outputs = engine.GenerateIds(prompts, options);
            Synchronize(device);
            double seconds = clock.Elapsed.TotalSeconds;
            log($"generation: {outputs.Sum(c => c.TokenIds.Length) / seconds:F0} new tokens/s (16 prompts of {o.Prompt} tokens, {options.MaxNewTokens} new each, greedy, KV cache, {seconds:F1} s incl. prefill)");
            return 0;
        }
        catch (Exception e)
        {
            log($"FAIL generation: {e.GetBaseException().Message.Split('\n')[0]}");
            return 1;
        }
    }

    /// <summary>HF's initialisation straight on the device (norms 1, biases 0, matrices N(0, 0.02²)): a 0.5B model is
    /// not worth generating on the host for a timing.</summary>
    static void InitOnDevice(CausalLM model)
    {
        using var noGrad = no_grad();
        foreach (var (name, p) in model.named_parameters())
        {
            if (name.EndsWith("norm.weight", StringComparison.Ordinal)) p.fill_(1);
            else if (name.EndsWith(".bias", StringComparison.Ordinal)) p.zero_();
            else p.normal_(0, 0.02);
        }
    }

    static double MatmulTflops(Device device, bool small)
    {
        int n = small ? 1024 : 8192, iters = small ? 3 : 20;
        using var scope = NewDisposeScope();
        var a = randn([n, n], dtype: ScalarType.BFloat16, device: device);
        var b = randn([n, n], dtype: ScalarType.BFloat16, device: device);
        a.matmul(b);
        Synchronize(device);
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < iters; i++) a.matmul(b).Dispose();
        Synchronize(device);
        return 2.0 * n * n * n * iters / clock.Elapsed.TotalSeconds / 1e12;
    }

    /// <summary>Dense bf16 tensor-core peak by GPU name (vendor data sheets, SXM parts); null when unknown.</summary>
    static double? NominalBf16Tflops(Device device)
    {
        if (device.type != DeviceType.CUDA) return null;
        string name = CudaDriver.Devices().FirstOrDefault(d => d.Index == Math.Max(0, device.index))?.Name ?? "";
        return name switch
        {
            _ when name.Contains("H200") || name.Contains("H100") && !name.Contains("PCIe") => 989,
            _ when name.Contains("H100") => 756,
            _ when name.Contains("A100") => 312,
            _ when name.Contains("L40S") => 362,
            _ when name.Contains("A10G") || name.Contains("A10 ") => 125,
            _ => null,
        };
    }

    static void Synchronize(Device device)
    {
        if (device.type == DeviceType.CUDA) cuda.synchronize(device);
    }

    /// <summary>Device memory in use (CUDA) or this process's peak resident memory (CPU), in bytes.</summary>
    static long UsedBytes(Device device)
    {
        if (device.type == DeviceType.CUDA)
            return CudaDriver.MemoryInfo(Math.Max(0, device.index)) is var (free, total) ? total - free : 0;
        var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
    }
}
