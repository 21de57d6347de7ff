using System.Globalization;
using StepDpo.Stages.Models;
using StepDpo.Torch.Checkpoints;
using StepDpo.Torch.Generation;
using StepDpo.Torch.Model;
using StepDpo.Torch.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace StepDpo.Bench.Probes;

/// <summary>
/// The work a child process measures (`probe SCENARIO key=value ...`), each through the code the stages run:
/// load (Checkpoint.Load), train (StepDpoTrainer.Train on synthetic pairs against given reference log-probs),
/// reference (ReferenceLogProbs.Compute) and generate (GenerationEngine, greedy, fixed length).
/// </summary>
public static class ProbeScenarios
{
    public static int Run(string[] args)
    {
        var settings = args.Skip(1).Select(a => a.Split('=', 2)).ToDictionary(kv => kv[0], kv => kv[1]);
        string Get(string key) => settings.TryGetValue(key, out var v) ? v : throw new ArgumentException($"probe: missing {key}=");
        int Int(string key) => int.Parse(Get(key), CultureInfo.InvariantCulture);
        ModelStore.ApplyThreadSetting();
        using (var warm = ones(1)) { } // libtorch loaded: the baseline counts the runtime, not the work
        long baseline = MemoryProbe.StatusKb("VmRSS");
        var numbers = args[0] switch
        {
            "load" => Load(Get("model"), Get("way")),
            "train" => Train(Get("model"), Int("micro"), Int("accumulation"), Int("prompt"), Int("completion"),
                bool.Parse(Get("checkpointing")), Int("lora"), Int("steps")),
            "reference" => Reference(Get("model"), Int("pairs"), Int("micro"), Int("prompt"), Int("completion")),
            "generate" => Generate(Get("model"), Int("batch"), Int("prompt"), Int("new")),
            "layer" => Layer(Get("model"), Int("micro"), Int("prompt"), Int("completion"), Int("lora")),
            "logits" => Logits(Int("micro"), Int("prompt"), Int("completion"), Int("v"), Int("h")),
            _ => throw new ArgumentException($"probe: unknown scenario {args[0]}"),
        };
        MemoryProbe.Report(baseline, numbers);
        return 0;
    }

    /// <summary>direct: bf16 file into bf16 weights; fp32: into fp32 weights; fp32-then-bf16: the old train stage (load in
    /// fp32, convert afterwards).</summary>
    static Dictionary<string, double> Load(string name, string way)
    {
        string dir = BenchModels.Checkpoint(name);
        double cpu = MemoryProbe.CpuSeconds();
        using var model = way switch
        {
            "direct" => Checkpoint.Load(dir, ScalarType.BFloat16),
            "fp32" => Checkpoint.Load(dir, ScalarType.Float32),
            "fp32-then-bf16" => Checkpoint.Load(dir, ScalarType.Float32),
            _ => throw new ArgumentException($"probe load: way={way}"),
        };
        if (way == "fp32-then-bf16") model.to(ScalarType.BFloat16);
        return new() { ["file_mb"] = BenchModels.FolderBytes(dir) / 1048576.0, ["cpu_s"] = MemoryProbe.CpuSeconds() - cpu };
    }

    static List<TokenizedPair> Pairs(int count, int prompt, int completion, int vocab)
    {
        var rng = new Random(5);
        int[] Draw(int n) => Enumerable.Range(0, n).Select(_ => rng.Next(vocab)).ToArray();
        return Enumerable.Range(0, count).Select(_ => new TokenizedPair(Draw(prompt), Draw(completion), Draw(completion))).ToList();
    }

    /// <summary><paramref name="steps"/> optimiser steps of Step-DPO (shared prefix, bf16, AdamW) through the real trainer;
    /// the data holds one step more and the run is cancelled before it, so the final checkpoint (optimiser state) is not
    /// written: the probe measures training, not saving. lora = rank (0: full fine-tuning, else all 7 projections).</summary>
    static Dictionary<string, double> Train(string name, int micro, int accumulation, int prompt, int completion,
        bool checkpointing, int lora, int steps)
    {
        using var model = Checkpoint.Load(BenchModels.Checkpoint(name), ScalarType.BFloat16);
        int count = micro * accumulation * (steps + 1);
        var pairs = Pairs(count, prompt, completion, model.VocabSize);
        var refs = new ReferenceLogps("bench", new double[count], new double[count], Enumerable.Repeat(completion, count).ToArray(),
            Enumerable.Repeat(completion, count).ToArray());
        var opts = new TrainOptions
        {
            Beta = 0.1, LearningRate = 1e-6, WarmupRatio = 0, Epochs = 1, MicroBatchSize = micro,
            GradientAccumulationSteps = accumulation, MaxLength = prompt + completion, MaxPromptLength = prompt,
            Dtype = "bfloat16", GradientCheckpointing = checkpointing,
            Lora = lora > 0 ? new LoraOptions { Rank = lora, Alpha = 2 * lora, TargetModules = AllProjections } : null,
        };
        string output = Directory.CreateTempSubdirectory("stepdpo-probe-").FullName;
        using var cancel = new CancellationTokenSource();
        var stepCpu = new List<double>();
        double last = MemoryProbe.CpuSeconds(), trainable = 0;
        var wall = System.Diagnostics.Stopwatch.StartNew();
        double lastWall = 0;
        var stepWall = new List<double>();
        try
        {
            StepDpoTrainer.Train(model, pairs, refs, opts, output, step =>
            {
                double now = MemoryProbe.CpuSeconds();
                stepCpu.Add(now - last);
                stepWall.Add(wall.Elapsed.TotalSeconds - lastWall);
                (last, lastWall) = (now, wall.Elapsed.TotalSeconds);
                if (step.Step == steps) cancel.Cancel();
            }, cancel.Token, saveModel: _ => Task.CompletedTask);
        }
        catch (OperationCanceledException) { }
        finally { Directory.Delete(output, recursive: true); }
        trainable = lora > 0 ? new MemoryPlan(model.Config, ScalarType.BFloat16).LoraParameters(opts.Lora!) : model.parameters().Sum(p => p.numel());
        // The last step is the steady one (the first also pays for first-call kernel setup).
        return new()
        {
            ["step_cpu_s"] = stepCpu[^1], ["step_wall_s"] = stepWall[^1], ["tokens_per_step"] = (double)micro * accumulation * (prompt + 2 * completion),
            ["trainable"] = trainable,
        };
    }

    /// <summary>One decoder layer of the model: the allocations its forward leaves alive (what it keeps for backward, its
    /// output included) and the peak of its backward.</summary>
    static Dictionary<string, double> Layer(string name, int micro, int prompt, int completion, int lora)
    {
        using var model = Checkpoint.Load(BenchModels.Checkpoint(name), ScalarType.BFloat16);
        using var adapters = lora > 0 ? new LoraAdapters(model, new LoraOptions { Rank = lora, TargetModules = AllProjections }, 1) : null;
        model.train();
        var pairs = Pairs(micro, prompt, completion, model.VocabSize);
        using var batch = SharedPrefixBatch.Build(pairs);
        var rotary = new Rotary(model.Config, CPU);
        var (cos, sin) = rotary.CosSin(batch.PositionIds, ScalarType.BFloat16);
        using var mask = batch.AttentionMask!.logical_or(eye(batch.Width, dtype: ScalarType.Bool));
        var x = randn(micro, batch.Width, model.Config.HiddenSize).to(ScalarType.BFloat16).requires_grad_();
        var d = new Dictionary<string, double>();
        double live0 = MemoryProbe.LiveMb();
        long hwm0 = MemoryProbe.StatusKb("VmHWM");
        var y = model.model.Layers[0].Forward(x, cos, sin, mask, null);
        d["layer_kept_mb"] = MemoryProbe.LiveMb() - live0;
        d["layer_hwm_mb"] = (MemoryProbe.StatusKb("VmHWM") - hwm0) / 1024.0;
        y.sum().backward();
        d["layer_backward_hwm_mb"] = (MemoryProbe.StatusKb("VmHWM") - hwm0) / 1024.0;
        return d;
    }

    /// <summary>The LM head alone (bf16 weights [v, h], the real GroupLogProbs): peaks of its forward and backward.</summary>
    static Dictionary<string, double> Logits(int micro, int prompt, int completion, int v, int h)
    {
        var pairs = Pairs(micro, prompt, completion, v);
        using var batch = SharedPrefixBatch.Build(pairs);
        var w = randn(v, h).to(ScalarType.BFloat16);
        var x = randn(micro, batch.Width, h).to(ScalarType.BFloat16).requires_grad_();
        var d = new Dictionary<string, double>();
        double live0 = MemoryProbe.LiveMb();
        long hwm0 = MemoryProbe.StatusKb("VmHWM");
        Tensor all;
        using (var scope = NewDisposeScope())
        {
            using var logitsBf16 = nn.functional.linear(x, w);
            var logits = logitsBf16.to(ScalarType.Float32);
            logitsBf16.Dispose();
            all = batch.GroupLogProbs(logits).MoveToOuterDisposeScope();
        }
        d["forward_hwm_mb"] = (MemoryProbe.StatusKb("VmHWM") - hwm0) / 1024.0;
        d["kept_mb"] = MemoryProbe.LiveMb() - live0;
        all.sum().backward();
        d["backward_hwm_mb"] = (MemoryProbe.StatusKb("VmHWM") - hwm0) / 1024.0;
        d["nv_mb"] = (double)batch.Rows * batch.Width * v / 1048576;
        d["sv_mb"] = (double)batch.GroupTokenCounts.Sum() * v / 1048576;
        return d;
    }

    public static readonly string[] AllProjections = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];

    static Dictionary<string, double> Reference(string name, int count, int micro, int prompt, int completion)
    {
        using var model = Checkpoint.Load(BenchModels.Checkpoint(name), ScalarType.BFloat16);
        var pairs = Pairs(count, prompt, completion, model.VocabSize);
        double cpu = MemoryProbe.CpuSeconds();
        var wall = System.Diagnostics.Stopwatch.StartNew();
        ReferenceLogProbs.Compute(model, pairs, "bench", micro);
        return new() { ["cpu_s"] = MemoryProbe.CpuSeconds() - cpu, ["wall_s"] = wall.Elapsed.TotalSeconds, ["tokens"] = (double)count * (prompt + 2 * completion) };
    }

    static Dictionary<string, double> Generate(string name, int batch, int prompt, int newTokens)
    {
        using var model = Checkpoint.Load(BenchModels.Checkpoint(name), ScalarType.BFloat16);
        var rng = new Random(9);
        var prompts = Enumerable.Range(0, batch).Select(_ => Enumerable.Range(0, prompt).Select(_ => rng.Next(model.VocabSize)).ToArray()).ToList();
        var engine = new GenerationEngine(model);
        var options = new SamplingOptions { MaxNewTokens = newTokens, Temperature = 0, IgnoreEos = true, MaxBatchSize = batch };
        double cpu = MemoryProbe.CpuSeconds();
        var wall = System.Diagnostics.Stopwatch.StartNew();
        var completions = engine.GenerateIds(prompts, options);
        return new()
        {
            ["cpu_s"] = MemoryProbe.CpuSeconds() - cpu, ["wall_s"] = wall.Elapsed.TotalSeconds,
            ["new_tokens"] = completions.Sum(c => c.TokenIds.Length), ["prompt_tokens"] = (double)batch * prompt,
        };
    }
}
