using System.Diagnostics;
using StepDpo.Torch.Generation;
using StepDpo.Torch.Model;
using StepDpo.Torch.Training;

namespace StepDpo.Bench.Peers;

/// <summary>
/// The StepDpo side of each peer case, through the code a run uses: the SFT and Step-DPO trainers (a step is the time
/// between two of their step callbacks: micro-batch build, forward, backward, clipping, AdamW with fp32 masters, metrics),
/// the reference pass of the train stage, and the generation engine. Each call times <c>reps</c> repetitions after one
/// warm-up, as the Python side does.
/// </summary>
sealed class StepDpoSide(CausalLM model, int vocab) : IDisposable
{
    readonly Random random = new(7);
    readonly string scratch = Directory.CreateTempSubdirectory("stepdpo-peers-").FullName;

    int[] Ids(int n) => Enumerable.Range(0, n).Select(_ => random.Next(vocab)).ToArray();

    List<TokenizedPair> Pairs(int count, int prefix, int step) =>
        Enumerable.Range(0, count).Select(_ => new TokenizedPair(Ids(prefix), Ids(step), Ids(step))).ToList();

    TrainOptions Options(int microBatch, int maxLength) => new()
    {
        Dtype = "bfloat16", LearningRate = 1e-4, WeightDecay = 0.01, MaxGradNorm = 1.0, MicroBatchSize = microBatch, Epochs = 1,
        MaxLength = maxLength, MaxPromptLength = maxLength - 1, WarmupRatio = 0, LrScheduler = "constant", Seed = 3,
    };

    /// <summary>Wall and CPU seconds between consecutive step callbacks of a trainer run of reps + 1 steps.</summary>
    Timing StepTimes(int reps, Action<Action<StepMetrics>, string> train)
    {
        var wall = new List<double>();
        var cpu = new List<double>();
        var clock = Stopwatch.StartNew();
        string dir = Path.Combine(scratch, Guid.NewGuid().ToString("N"));
        train(m => { if (!m.IsEval) { wall.Add(clock.Elapsed.TotalSeconds); cpu.Add(CpuClock.Now()); } }, dir);
        Directory.Delete(dir, true);
        return new Timing(Differences(wall), Differences(cpu));
    }

    static double[] Differences(List<double> stamps) => stamps.Zip(stamps.Skip(1), (a, b) => b - a).ToArray();

    static Task NoSave(string _) => Task.CompletedTask;

    public Timing Sft(int batch, int prompt, int completion, int reps)
    {
        var examples = Enumerable.Range(0, batch * (reps + 1)).Select(_ => new SftExample(Ids(prompt), Ids(completion))).ToList();
        // max_length = one example: every row holds one example, as the PyTorch side's rows do.
        var opts = Options(batch, prompt + completion);
        return StepTimes(reps, (onStep, dir) => SftTrainer.Train(model, examples, opts, dir, onStep, saveModel: NoSave));
    }

    public Timing Dpo(bool shared, int pairs, int prefix, int step, int reps)
    {
        var data = Pairs(pairs * (reps + 1), prefix, step);
        var zeros = new double[data.Count];
        var refs = new ReferenceLogps("bench", zeros, zeros, new int[data.Count], new int[data.Count]);
        var opts = Options(pairs, prefix + step + 1) with { Loss = ["sigmoid"], Beta = 0.1, SharedPrefix = shared };
        return StepTimes(reps, (onStep, dir) => StepDpoTrainer.Train(model, data, refs, opts, dir, onStep, saveModel: NoSave));
    }

    public Timing Reference(int pairs, int prefix, int step, int reps)
    {
        var data = Pairs(pairs, prefix, step);
        return Timed(reps, () => ReferenceLogProbs.Compute(model, data, "bench", pairs));
    }

    public Timing Prefill(int batch, int prompt, int reps)
    {
        var prompts = Enumerable.Range(0, batch).Select(_ => Ids(prompt)).ToList();
        var engine = new GenerationEngine(model);
        return Timed(reps, () => engine.GenerateIds(prompts, Greedy(1, batch)));
    }

    /// <summary>Wall and CPU seconds of the new - 1 decode steps after the prefill (from the first sampled token to the
    /// last).</summary>
    public Timing Decode(int batch, int prompt, int newTokens, int reps)
    {
        var prompts = Enumerable.Range(0, batch).Select(_ => Ids(prompt)).ToList();
        var engine = new GenerationEngine(model);
        var wall = new double[reps + 1];
        var cpu = new double[reps + 1];
        for (int r = 0; r <= reps; r++)
        {
            var steps = new StepClock();
            engine.GenerateIds(prompts, Greedy(newTokens, batch), steps);
            (wall[r], cpu[r]) = (steps.Last - steps.First, steps.LastCpu - steps.FirstCpu);
        }
        return new Timing(wall[1..], cpu[1..]);
    }

    static SamplingOptions Greedy(int newTokens, int batch) =>
        new() { Temperature = 0, MaxNewTokens = newTokens, IgnoreEos = true, MaxBatchSize = batch };

    /// <summary>Time stamps of the engine's per-step reports, taken on the decoding thread.</summary>
    sealed class StepClock : IProgress<GenerationProgress>
    {
        readonly Stopwatch clock = Stopwatch.StartNew();
        public double First = double.NaN, Last, FirstCpu, LastCpu;
        public void Report(GenerationProgress value)
        {
            (Last, LastCpu) = (clock.Elapsed.TotalSeconds, CpuClock.Now());
            if (double.IsNaN(First)) (First, FirstCpu) = (Last, LastCpu);
        }
    }

    static Timing Timed(int reps, Action run)
    {
        run();
        var wall = new double[reps];
        var cpu = new double[reps];
        for (int i = 0; i < reps; i++)
        {
            var clock = Stopwatch.StartNew();
            double start = CpuClock.Now();
            run();
            (wall[i], cpu[i]) = (clock.Elapsed.TotalSeconds, CpuClock.Now() - start);
        }
        return new Timing(wall, cpu);
    }

    public void Dispose() => Directory.Delete(scratch, true);
}

/// <summary>Wall-clock and CPU seconds of each timed repetition.</summary>
sealed record Timing(double[] Wall, double[] Cpu);
