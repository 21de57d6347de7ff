using StepDpo.Torch.Checkpoints;
using StepDpo.Torch.Generation;
using StepDpo.Torch.Model;
using StepDpo.Torch.Training;
using static TorchSharp.torch;

namespace StepDpo.GpuCheck;

/// <summary>
/// The placement test on a real device: every hot path runs on it with a small real Qwen2 model, and its numbers are
/// compared with the same run on the CPU. On CUDA a tensor left on the CPU fails the operation that mixes it in ("Expected
/// all tensors to be on the same device"), so a path that completes and agrees is placed right end to end.
/// </summary>
public static class HotPaths
{
    public static int Run(Device device, Action<string> log)
    {
        log($"\n== placement: every hot path on {device}, compared with the CPU");
        string root = Directory.CreateTempSubdirectory("stepdpo-gpu-check-").FullName;
        int failures = 0;
        try
        {
            // Weights large enough (std 0.2) that greedy choices are not near-ties between devices.
            string folder = Path.Combine(root, "model");
            using (var init = new CausalLM(Presets.Create("qwen2", "tiny", 300), ScalarType.Float32, CPU))
            {
                RandomInit.Apply(init, 5, std: 0.2, perturbNormsAndBiases: true);
                Checkpoint.Save(init, folder);
            }
            CausalLM Load(Device d, ScalarType dtype = ScalarType.Float32) => Checkpoint.Load(folder, dtype, d);

            void Check(string name, Func<string> run)
            {
                try { log($"ok   {name}: {run()}"); }
                catch (Exception e)
                {
                    failures++;
                    log($"FAIL {name}: {e.GetBaseException().Message.Split('\n')[0]}");
                }
            }

            Check("model built and loaded on the device", () =>
            {
                using var m = Load(device, ScalarType.BFloat16);
                var stray = m.named_parameters().Where(p => p.parameter.device.ToString() != device.ToString()).Select(p => p.name).ToList();
                if (stray.Count > 0) throw new InvalidOperationException($"parameters elsewhere: {string.Join(", ", stray)}");
                return $"{m.parameters().Count()} bf16 tensors on {m.Device}";
            });

            var sft = Examples(12);
            Check("SFT steps (packed rows)", () => Agree(
                TrainLosses(Load(device), (m, dir, onStep) => SftTrainer.Train(m, sft, Options(), dir, onStep), root),
                TrainLosses(Load(CPU), (m, dir, onStep) => SftTrainer.Train(m, sft, Options(), dir, onStep), root)));

            var pairs = Pairs(12);
            foreach (var (name, opts) in new (string, TrainOptions)[]
                     {
                         ("Step-DPO steps, shared prefix, reference pass, activation checkpointing", Options() with { GradientCheckpointing = true }),
                         ("Step-DPO steps, two rows (causal SDPA, no mask)", Options() with { SharedPrefix = false }),
                         ("Step-DPO steps, LoRA adapters", Options() with { Lora = new LoraOptions { Rank = 4, Alpha = 8 } }),
                         ("Step-DPO steps, ipo with eval split", Options() with { Loss = ["ipo"], EvalFraction = 0.25 }),
                     })
                Check(name, () => Agree(
                    TrainLosses(Load(device), (m, dir, onStep) => StepDpoTrainer.Train(m, pairs, null, opts, dir, onStep), root),
                    TrainLosses(Load(CPU), (m, dir, onStep) => StepDpoTrainer.Train(m, pairs, null, opts, dir, onStep), root)));

            Check("bf16 Step-DPO steps (fp32 master weights)", () =>
            {
                var losses = TrainLosses(Load(device), (m, dir, onStep) =>
                    StepDpoTrainer.Train(m, pairs, null, Options() with { Dtype = "bfloat16" }, dir, onStep), root);
                if (!losses.All(double.IsFinite)) throw new InvalidOperationException($"losses {string.Join(", ", losses)}");
                return $"{losses.Length} steps, losses {string.Join(", ", losses.Select(l => l.ToString("F4")))}";
            });

            var prompts = Enumerable.Range(0, 5).Select(i => Tokens(6 + 3 * i, seed: 40 + i)).ToList();
            Check("generation: greedy with the KV cache = without it, and = the CPU", () =>
            {
                using var m = Load(device);
                using var cpu = Load(CPU);
                var greedy = new SamplingOptions { Temperature = 0, MaxNewTokens = 12, IgnoreEos = true };
                var cached = new GenerationEngine(m).GenerateIds(prompts, greedy);
                var uncached = new GenerationEngine(m).GenerateIds(prompts, greedy with { UseKvCache = false });
                var onCpu = new GenerationEngine(cpu).GenerateIds(prompts, greedy);
                for (int i = 0; i < cached.Count; i++)
                    if (!cached[i].TokenIds.SequenceEqual(uncached[i].TokenIds))
                        throw new InvalidOperationException($"prompt {i}: KV cache and full recompute disagree");
                int same = cached.Zip(onCpu).Count(p => p.First.TokenIds.SequenceEqual(p.Second.TokenIds));
                double logprobDiff = cached.Zip(onCpu).Max(p => Math.Abs(p.First.LogProb - p.Second.LogProb));
                if (same < cached.Count) throw new InvalidOperationException($"{same}/{cached.Count} greedy sequences equal the CPU's");
                return $"{cached.Count} prompts x 12 tokens, same as the CPU, max |log p diff| {logprobDiff:E1}";
            });

            Check("generation: sampling, n = 3 sharing one prefill, top-p", () =>
            {
                using var m = Load(device);
                var sampled = new GenerationEngine(m).GenerateIds(prompts,
                    new SamplingOptions { Temperature = 1, TopP = 0.9, N = 3, MaxNewTokens = 10, Seed = 3, IgnoreEos = true });
                if (sampled.Count != 15 || sampled.Any(c => c.TokenLogprobs.Any(l => !float.IsFinite(l))))
                    throw new InvalidOperationException("missing samples or non-finite log-probs");
                return $"{sampled.Count} sequences";
            });

            Check("scoring log p(completion | prompt)", () =>
            {
                var scored = prompts.Select((p, i) => (p, Tokens(5, seed: 90 + i))).ToList();
                using var m = Load(device);
                using var cpu = Load(CPU);
                double diff = Scorer.Score(m, scored).Zip(Scorer.Score(cpu, scored)).Max(x => Math.Abs(x.First.LogProb - x.Second.LogProb));
                if (diff > 1e-3) throw new InvalidOperationException($"max |log p diff| {diff:E2}");
                return $"max |log p diff| vs CPU {diff:E1}";
            });

            Check("checkpoint saved from the device", () =>
            {
                using var m = Load(device);
                string saved = Path.Combine(root, "saved");
                Checkpoint.Save(m, saved);
                using var back = Checkpoint.Load(saved);
                using var original = Load(CPU);
                foreach (var ((name, a), (_, b)) in back.named_parameters().Zip(original.named_parameters()))
                    if (!a.eq(b).all().item<bool>()) throw new InvalidOperationException($"{name} changed in the round trip");
                return "bit-exact round trip";
            });
        }
        finally { Directory.Delete(root, recursive: true); }
        return failures;
    }

    static TrainOptions Options() => new()
    {
        Beta = 0.5, LearningRate = 2e-3, WarmupRatio = 0, Epochs = 2, MicroBatchSize = 3, GradientAccumulationSteps = 2,
        MaxLength = 64, MaxPromptLength = 48, Seed = 7, MaxGradNorm = 1.0,
    };

    /// <summary>The per-step training losses of one run (the model is disposed afterwards).</summary>
    static double[] TrainLosses(CausalLM model, Func<CausalLM, string, Action<StepMetrics>, TrainResult> train, string root)
    {
        using var _ = model;
        string dir = Path.Combine(root, "train-" + Guid.NewGuid().ToString("N")[..8]);
        var losses = new List<double>();
        train(model, dir, s => { if (!s.IsEval) losses.Add(s["loss"]); });
        Directory.Delete(dir, recursive: true);
        return [.. losses];
    }

    /// <summary>Device and CPU losses agree step by step (float32: to rounding, amplified a little by the updates).</summary>
    static string Agree(double[] device, double[] cpu)
    {
        if (device.Length != cpu.Length || device.Length == 0) throw new InvalidOperationException($"{device.Length} steps vs {cpu.Length} on the CPU");
        double worst = device.Zip(cpu).Max(p => Math.Abs(p.First - p.Second) / Math.Max(1, Math.Abs(p.Second)));
        if (!(worst < 1e-3)) throw new InvalidOperationException($"losses {Join(device)} differ from the CPU's {Join(cpu)}");
        return $"{device.Length} steps, losses {Join(device)}, max relative diff vs CPU {worst:E1}";
    }

    static string Join(double[] xs) => string.Join(", ", xs.Select(x => x.ToString("F4")));

    static int[] Tokens(int n, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => rng.Next(300)).ToArray();
    }

    static List<SftExample> Examples(int n) =>
        Enumerable.Range(0, n).Select(i => new SftExample(Tokens(4 + i % 5, i), Tokens(3 + i % 4, 100 + i))).ToList();

    static List<TokenizedPair> Pairs(int n) =>
        Enumerable.Range(0, n).Select(i => new TokenizedPair(Tokens(8 + i % 4, 200 + i), Tokens(3 + i % 2, 300 + i), Tokens(4 - i % 2, 400 + i))).ToList();
}
