using System.Diagnostics;
using StepDpo.Torch.Checkpoints;
using StepDpo.Torch.Model;
using static TorchSharp.torch;

/// <summary>
/// Rows without packing: SDPA with its causal flag (no mask tensor; on CUDA the flash and memory-efficient kernels) against
/// the same attention through an explicit boolean mask (what packed and shared-prefix rows need), same run, same inputs.
/// 1. The attention alone, at Qwen2-0.5B's head layout (14 query heads, 2 key/value heads, head dim 64), exactly as
///    <see cref="Attention"/> calls it: causal repeats K/V per query head; masked folds the query heads of a group.
/// 2. The whole model forward (and forward + backward) of the real qwen2 decoder on right-padded rows.
/// Options: --dtype bf16|fp32 (default bf16), --iters N (default 5), --threads N.
/// Run: dotnet run -c Release --project tests/StepDpo.Bench -- attention --threads 1
/// </summary>
public static class AttentionBench
{
    public static void Run(string[] args)
    {
        string? Option(string name) => Array.IndexOf(args, name) is int i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        var dtype = (Option("--dtype") ?? "bf16") is "fp32" or "float32" ? ScalarType.Float32 : ScalarType.BFloat16;
        int iters = int.Parse(Option("--iters") ?? "5");
        if (Option("--threads") is { } threads) set_num_threads(int.Parse(threads));
        Console.WriteLine($"{dtype}, median of {iters} after one warm-up; torch threads {get_num_threads()}, {Environment.ProcessorCount} cores");
        using var noGrad = no_grad();

        Console.WriteLine("\n| attention (14 q heads, 2 kv heads, d 64) | causal flag ms | explicit mask ms | masked / causal |");
        Console.WriteLine("|---|---|---|---|");
        foreach (var (b, t) in new[] { (4, 512), (2, 1024), (1, 2048) })
        {
            var g = new Generator(7);
            using var q = randn([b, 14, t, 64], generator: g).to(dtype);
            using var k = randn([b, 2, t, 64], generator: g).to(dtype);
            using var v = randn([b, 2, t, 64], generator: g).to(dtype);
            using var mask = ones(t, t, dtype: ScalarType.Bool).tril().expand(b, 1, t, t).contiguous();
            double causal = Median(iters, () =>
            {
                using var kr = k.unsqueeze(2).expand(b, 2, 7, t, 64).reshape(b, 14, t, 64);
                using var vr = v.unsqueeze(2).expand(b, 2, 7, t, 64).reshape(b, 14, t, 64);
                using var o = nn.functional.scaled_dot_product_attention(q, kr, vr, is_casual: true);
            });
            double masked = Median(iters, () =>
            {
                using var grouped = q.reshape(b, 2, 7 * t, 64);
                using var groupedMask = mask.unsqueeze(2).expand(b, 1, 7, t, t).reshape(b, 1, 7 * t, t);
                using var o = nn.functional.scaled_dot_product_attention(grouped, k, v, groupedMask);
            });
            Console.WriteLine($"| batch {b} x {t} tokens | {causal:F1} | {masked:F1} | {masked / causal:F2} |");
        }

        Console.WriteLine("\n| model forward, qwen2/small (hidden 256, 4 layers, 8/2 heads), vocab 4096 | causal ms | masked ms | masked / causal | causal fwd+bwd ms | masked fwd+bwd ms | ratio |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        var model = new CausalLM(Presets.Create("qwen2", "small", 4096), dtype);
        RandomInit.Apply(model, 1);
        foreach (var (b, t) in new[] { (8, 256), (4, 512), (2, 1024) })
        {
            var g = new Generator(11);
            using var ids = randint(0, 4096, [b, t], generator: g);
            using var positions = arange(t, dtype: ScalarType.Int64).unsqueeze(0).expand(b, t).contiguous();
            using var mask = ones(t, t, dtype: ScalarType.Bool).tril().expand(b, 1, t, t).contiguous();
            double causal = Median(iters, () => { using var l = model.Forward(ids, positions, null); });
            double masked = Median(iters, () => { using var l = model.Forward(ids, positions, mask); });
            double causalTrain, maskedTrain;
            using (enable_grad())
            {
                causalTrain = Median(iters, () => Backward(model, ids, positions, null));
                maskedTrain = Median(iters, () => Backward(model, ids, positions, mask));
            }
            Console.WriteLine($"| batch {b} x {t} tokens | {causal:F0} | {masked:F0} | {masked / causal:F2} | {causalTrain:F0} | {maskedTrain:F0} | {maskedTrain / causalTrain:F2} |");
        }
    }

    static void Backward(CausalLM model, Tensor ids, Tensor positions, Tensor? mask)
    {
        using var scope = NewDisposeScope();
        model.Forward(ids, positions, mask).mean().backward();
        foreach (var p in model.parameters()) p.grad = null;
    }

    static double Median(int iters, Action run)
    {
        run();
        var times = new double[iters];
        for (int i = 0; i < iters; i++)
        {
            var clock = Stopwatch.StartNew();
            run();
            times[i] = clock.Elapsed.TotalMilliseconds;
        }
        Array.Sort(times);
        return times[iters / 2];
    }
}
