using System.Globalization;
using System.Text.Json.Nodes;
using StepDpo.Torch.Checkpoints;
using StepDpo.Torch.Model;
using static TorchSharp.torch;

namespace StepDpo.Bench.Peers;

/// <summary>
/// StepDpo against PyTorch eager on the same shapes, in one run: SFT step, Step-DPO step in the shared-prefix and the
/// two-row (TRL) layouts at prefix:step 2:1, 5:1 and 10:1 (and the shared layout's gain against its token-count bound),
/// the reference pass, prefill and greedy decoding with the KV cache at batch 1, 8 and 64, for the
/// qwen2 presets mini and small in bf16 with random weights. The two sides alternate round by round (each round times a
/// few repetitions of one side, then of the other), so a neighbour's load hits both. The table shows medians of CPU time
/// (this process, all threads: on a shared machine the wall clock also counts the neighbours) and the speed ratios
/// PyTorch time / StepDpo time for CPU time and for the wall clock (above 1, StepDpo is faster).
/// Options: --threads N (both sides; default 1), --presets mini,small, --vocab N (4096), --rounds N (3), --reps N (3),
/// --python PATH (/usr/bin/python3), --only CASE[,CASE] (sft, dpo-shared, dpo-rows, reference, prefill, decode).
/// Run: dotnet run -c Release --project tests/StepDpo.Bench -- peers [--threads N]
/// </summary>
public static class PeerBench
{
    sealed record Case(string Name, string Shape, string Unit, double Work, Func<StepDpoSide, int, Timing> Ours, JsonObject Theirs)
    {
        /// <summary>Rate units (tokens/s) are work / time; time units show the time (ms) itself.</summary>
        public bool IsRate => Unit.EndsWith("/s", StringComparison.Ordinal);
        public double Show(double seconds) => IsRate ? Work / seconds : seconds * 1000 / Work;
    }

    public static int Run(string[] args)
    {
        string Option(string name, string fallback) =>
            Array.IndexOf(args, name) is int i and >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
        int threads = int.Parse(Option("--threads", "1"), CultureInfo.InvariantCulture);
        int vocab = int.Parse(Option("--vocab", "4096"), CultureInfo.InvariantCulture);
        int rounds = int.Parse(Option("--rounds", "3"), CultureInfo.InvariantCulture);
        int reps = int.Parse(Option("--reps", "3"), CultureInfo.InvariantCulture);
        string python = Option("--python", "/usr/bin/python3");
        var presets = Option("--presets", "mini,small").Split(',');
        var only = Option("--only", "").Split(',', StringSplitOptions.RemoveEmptyEntries);

        set_num_threads(threads);
        string? missing = PythonPeer.Unavailable(python);
        Console.WriteLine($"StepDpo: TorchSharp {typeof(TorchSharp.torch).Assembly.GetName().Version} (libtorch {LibTorchVersion()}), " +
                          $"{get_num_threads()} threads; bf16, vocab {vocab}, random weights; {rounds} rounds x {reps} repetitions per side");
        if (missing is not null) Console.WriteLine($"PyTorch side skipped: {missing}. Only StepDpo's numbers are shown.");
        Console.WriteLine($"load average at start: {LoadAverage()}");

        foreach (var preset in presets)
        {
            var config = Presets.Create("qwen2", preset, vocab);
            using var model = new CausalLM(config, ScalarType.BFloat16);
            RandomInit.Apply(model, 1);
            using var ours = new StepDpoSide(model, vocab);
            using var theirs = missing is null ? PythonPeer.Start(python, preset, vocab, threads) : null;
            Console.WriteLine();
            Console.WriteLine($"## qwen2/{preset}: {model.parameters().Sum(p => p.numel()) / 1e6:F2}M parameters" +
                (theirs is null ? "" : $"; PyTorch {theirs.TorchVersion}, {theirs.Threads} threads, attention {theirs.Attention}"));
            Console.WriteLine();
            Console.WriteLine("| hot loop | shape | unit (CPU time) | StepDpo | PyTorch eager | ratio, CPU time | ratio, wall clock |");
            Console.WriteLine("|---|---|---|---:|---:|---:|---:|");
            var cpuMedians = new Dictionary<string, (double Mine, double Peer)>();
            foreach (var c in Cases().Where(c => only.Length == 0 || only.Any(o => c.Name.StartsWith(o, StringComparison.Ordinal))))
            {
                var (mineWall, mineCpu, peerWall, peerCpu) = (new List<double>(), new List<double>(), new List<double>(), new List<double>());
                for (int r = 0; r < rounds; r++)
                {
                    var mine = c.Ours(ours, reps);
                    mineWall.AddRange(mine.Wall); mineCpu.AddRange(mine.Cpu);
                    if (theirs is null) continue;
                    var request = (JsonObject)c.Theirs.DeepClone();
                    request["reps"] = reps;
                    var peer = theirs.Run(request);
                    peerWall.AddRange(peer.Wall); peerCpu.AddRange(peer.Cpu);
                }
                cpuMedians[c.Name] = (Median(mineCpu), peerCpu.Count == 0 ? double.NaN : Median(peerCpu));
                string Cell(List<double> xs) => xs.Count == 0 ? "-" : $"{c.Show(Median(xs)):F1}";
                string Ratio(List<double> a, List<double> b) => b.Count == 0 ? "-" : $"{Median(b) / Median(a):F2}";
                Console.WriteLine($"| {c.Name} | {c.Shape} | {c.Unit} | {Cell(mineCpu)} | {Cell(peerCpu)} | " +
                                  $"{Ratio(mineCpu, peerCpu)} | {Ratio(mineWall, peerWall)} |");
            }
            PrintSharedPrefixGain(cpuMedians);
            Console.WriteLine();
            Console.WriteLine($"load average after {preset}: {LoadAverage()}");
        }
        return 0;
    }

    /// <summary>Prefix:step ratios of the Step-DPO cases: shared-prefix against two rows at each.</summary>
    static readonly int[] PrefixRatios = [2, 5, 10];

    /// <summary>The shapes: tiny's SFT micro-batch (8 examples) at 128 tokens; Step-DPO micro-batches of 8 pairs with
    /// 32-token steps after a prefix of 2, 5 and 10 steps (64, 160, 320 tokens); prompts of 64 tokens and 64 new tokens
    /// for generation.</summary>
    static IEnumerable<Case> Cases()
    {
        const int batch = 8, prompt = 32, completion = 96, pairs = 8, step = 32, genPrompt = 64, newTokens = 64;
        yield return new("sft step", $"{batch} x {prompt}+{completion}", "ms/step", 1,
            (s, reps) => s.Sft(batch, prompt, completion, reps),
            new() { ["case"] = "sft", ["batch"] = batch, ["prompt"] = prompt, ["completion"] = completion });
        foreach (int ratio in PrefixRatios)
            foreach (var (layout, shared) in new[] { ("shared", true), ("rows", false) })
            {
                int prefix = ratio * step;
                yield return new(DpoCase(layout, ratio), $"{pairs} pairs, {prefix}+{step}/{step}", "ms/step", 1,
                    (s, reps) => s.Dpo(shared, pairs, prefix, step, reps),
                    new() { ["case"] = "dpo", ["layout"] = layout, ["pairs"] = pairs, ["prefix"] = prefix, ["step"] = step });
            }
        const int refPrefix = 5 * step;
        yield return new("reference pass", $"{pairs} pairs, {refPrefix}+{step}/{step}", "ms/pair", pairs,
            (s, reps) => s.Reference(pairs, refPrefix, step, reps),
            new() { ["case"] = "reference", ["pairs"] = pairs, ["prefix"] = refPrefix, ["step"] = step });
        foreach (int b in new[] { 1, 8, 64 })
            yield return new($"prefill b{b}", $"{b} x {genPrompt}", "tokens/s", b * genPrompt,
                (s, reps) => s.Prefill(b, genPrompt, reps),
                new() { ["case"] = "prefill", ["batch"] = b, ["prompt"] = genPrompt });
        foreach (int b in new[] { 1, 8, 64 })
            yield return new($"decode b{b}", $"{b} x {genPrompt}, {newTokens} new, greedy, KV cache", "tokens/s", b * (newTokens - 1),
                (s, reps) => s.Decode(b, genPrompt, newTokens, reps),
                new() { ["case"] = "decode", ["batch"] = b, ["prompt"] = genPrompt, ["new"] = newTokens });
    }

    static string DpoCase(string layout, int ratio) => $"dpo-{layout} step {ratio}:1";

    /// <summary>The shared-prefix layout's speed-up over two rows per pair, per side, against what the token counts allow:
    /// two rows forward 2(r+1) step lengths per pair, the shared layout r+2, so the bound is (2r+2)/(r+2) (1.50 at 2:1,
    /// 1.71 at 5:1, 1.83 at 10:1). Fixed costs per step (the optimiser, the LM head on the same scored tokens in both
    /// layouts, the loss) keep a real step below it.</summary>
    static void PrintSharedPrefixGain(Dictionary<string, (double Mine, double Peer)> cpuMedians)
    {
        if (!PrefixRatios.All(r => cpuMedians.ContainsKey(DpoCase("shared", r)) && cpuMedians.ContainsKey(DpoCase("rows", r)))) return;
        Console.WriteLine();
        Console.WriteLine("| shared prefix vs two rows (CPU time) | StepDpo | PyTorch eager | token-count bound (2r+2)/(r+2) |");
        Console.WriteLine("|---|---:|---:|---:|");
        foreach (int r in PrefixRatios)
        {
            var (shared, rows) = (cpuMedians[DpoCase("shared", r)], cpuMedians[DpoCase("rows", r)]);
            string peer = double.IsNaN(shared.Peer) ? "-" : $"{rows.Peer / shared.Peer:F2}";
            Console.WriteLine($"| {r}:1 | {rows.Mine / shared.Mine:F2} | {peer} | {(2.0 * r + 2) / (r + 2):F2} |");
        }
    }

    static double Median(List<double> xs)
    {
        var sorted = xs.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";

    /// <summary>The libtorch package this build resolved (TorchSharp's native runtime), read from the deps file.</summary>
    static string LibTorchVersion()
    {
        string deps = Path.Combine(AppContext.BaseDirectory, "StepDpo.Bench.deps.json");
        var match = File.Exists(deps)
            ? System.Text.RegularExpressions.Regex.Match(File.ReadAllText(deps), "\"libtorch-[a-z0-9-]+/([0-9.]+)\"")
            : null;
        return match is { Success: true } ? match.Groups[1].Value : "unknown";
    }
}
