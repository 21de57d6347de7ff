using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using StepDpo.Core;
using StepDpo.Torch.Devices;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace StepDpo.Torch.Training;

/// <summary>What one micro-batch contributed: its share of the step loss (already weighted), forwarded tokens, and sums
/// of per-example metrics over <see cref="Examples"/> examples.</summary>
public sealed record MicroResult(double WeightedLoss, long Tokens, int Examples, IReadOnlyDictionary<string, double> Sums);

/// <summary>A finished run: where the final model is, the last step's metrics, and the last evaluation.</summary>
public sealed record TrainResult(string FinalDirectory, int Steps, StepMetrics? LastStep, StepMetrics? LastEval);

/// <summary>The run diverged: a loss or gradient was NaN or infinite. The last good checkpoint is left untouched.</summary>
public sealed class TrainingDivergedException(string message) : StepDpoException(message);

/// <summary>
/// The optimisation loop shared by <see cref="StepDpoTrainer"/> and <see cref="SftTrainer"/>: epochs of bucketed
/// micro-batches, gradient accumulation to the global batch (each micro-batch weighted by its share of the step's
/// examples or tokens, so the step loss is the global-batch mean), gradient-norm clipping, AdamW with the scheduled
/// learning rate, metrics, periodic evaluation, checkpoints and resumption.
/// A checkpoint (checkpoint-N/) holds the model as the bound writer saves it, the optimiser state (fp32 master weights
/// and moments of every trainable parameter, so it alone restores the trained weights bit-exactly), the torch RNG state
/// and the step; the data order is a function of (seed, epoch), so the step fixes the position in the data.
/// </summary>
public sealed class TrainingEngine
{
    /// <summary>Forwards one micro-batch and hands its weighted loss to <paramref name="backward"/> (which differentiates
    /// it: into the parameters' gradients, or into this micro-batch's own when micro-batches run at once).</summary>
    public delegate MicroResult MicroStep(int[] examples, double weight, Action<Tensor> backward);
    public delegate IReadOnlyDictionary<string, double> Evaluation();

    public required ICausalLM Model { get; init; }
    public required TrainOptions Options { get; init; }
    public required string OutputDirectory { get; init; }
    /// <summary>Parameters to train (all of the model, or LoRA adapters).</summary>
    public required IReadOnlyList<(string Name, Parameter Parameter)> Trainable { get; init; }
    /// <summary>Length of each training example, for bucketing.</summary>
    public required IReadOnlyList<int> Lengths { get; init; }
    /// <summary>Weight of a micro-batch in its step (examples for DPO, completion tokens for SFT).</summary>
    public required Func<int[], double> WeightOf { get; init; }
    public required MicroStep RunMicroStep { get; init; }
    public Evaluation? Evaluate { get; init; }
    /// <summary>Metric names of a training step, in CSV column order (engine-level names are added).</summary>
    public required IReadOnlyList<string> MetricNames { get; init; }
    public IReadOnlyList<string> EvalMetricNames { get; init; } = [];
    /// <summary>Writes the model (Hugging Face checkpoint when bound by the stage) into a directory.</summary>
    public required Func<string, Task> SaveModel { get; init; }
    public Action<StepMetrics>? OnStep { get; init; }
    /// <summary>Identity of the training data; a checkpoint of other data is not resumed.</summary>
    public required string DataKey { get; init; }

    public static readonly string[] EngineMetricNames = ["grad_norm", "learning_rate", "tokens_per_second"];

    public TrainResult Run(CancellationToken ct)
    {
        Directory.CreateDirectory(OutputDirectory);
        int perEpoch = BatchPlanner.Plan(Lengths, Options.MicroBatchSize, Options.Seed, 0).Count;
        if (perEpoch == 0) throw new StepDpoException("train: no training examples left after the evaluation split");
        int stepsPerEpoch = (perEpoch + Options.GradientAccumulationSteps - 1) / Options.GradientAccumulationSteps;
        int total = stepsPerEpoch * Options.Epochs;
        var schedule = LrSchedule.From(Options, total);
        using var optimizer = new AdamW(Trainable, Options.AdamBeta1, Options.AdamBeta2, Options.AdamEpsilon, Options.WeightDecay);

        random.manual_seed(Options.Seed);
        var (startStep, resumedFrom) = Resume(optimizer);
        var log = new MetricsLog(OutputDirectory, [.. MetricNames, .. EngineMetricNames], EvalMetricNames.Select(n => "eval_" + n), startStep);
        if (Model is IGradientCheckpointable gc) gc.GradientCheckpointing = Options.GradientCheckpointing;

        var clock = Stopwatch.StartNew();
        StepMetrics? last = log.LastKept(eval: false, total), lastEval = log.LastKept(eval: true, total);
        List<int[]>? plan = null;
        int planEpoch = -1;
        string? lastCheckpoint = resumedFrom;
        for (int step = startStep; step < total; step++)
        {
            ct.ThrowIfCancellationRequested();
            int epoch = step / stepsPerEpoch;
            if (epoch != planEpoch) { plan = BatchPlanner.Plan(Lengths, Options.MicroBatchSize, Options.Seed, epoch); planEpoch = epoch; }
            int first = step % stepsPerEpoch * Options.GradientAccumulationSteps;
            var micro = plan!.Skip(first).Take(Options.GradientAccumulationSteps).ToList();
            double totalWeight = micro.Sum(WeightOf);

            var stepClock = Stopwatch.StartNew();
            // Every tensor and Scalar wrapper this step creates (gradients fetched from parameters included) belongs to
            // this scope and is freed here, on this thread. Left to the finalizer thread, a wrapper can be released while
            // libtorch still reads it, or race its allocator: rare native crashes after hundreds of steps.
            double loss = 0, gradNorm, lr, epochProgress = (double)(step + 1) / stepsPerEpoch;
            long tokens = 0; int examples = 0;
            var sums = new Dictionary<string, double>();
            using (NewDisposeScope())
            {
                Model.Module.train();
                optimizer.ZeroGrad();
                foreach (var r in RunMicroBatches(micro, totalWeight))
                {
                    loss += r.WeightedLoss; tokens += r.Tokens; examples += r.Examples;
                    foreach (var (k, v) in r.Sums) sums[k] = sums.GetValueOrDefault(k) + v;
                }
                if (!double.IsFinite(loss)) Diverged("loss", loss, step, epochProgress, lastCheckpoint);
                gradNorm = optimizer.GradNorm();
                if (!double.IsFinite(gradNorm)) Diverged("gradient norm", gradNorm, step, epochProgress, lastCheckpoint);
                if (Options.MaxGradNorm > 0 && gradNorm > Options.MaxGradNorm) optimizer.ScaleGrads(Options.MaxGradNorm / (gradNorm + 1e-6));
                lr = schedule.At(step);
                optimizer.Step(lr);
                optimizer.ZeroGrad();
            }
            stepClock.Stop();

            var values = new Dictionary<string, double> { ["loss"] = loss };
            foreach (var (k, v) in sums) values[k] = v / Math.Max(1, examples);
            values["grad_norm"] = gradNorm;
            values["learning_rate"] = lr;
            values["tokens_per_second"] = tokens / Math.Max(1e-9, stepClock.Elapsed.TotalSeconds);
            var elapsed = clock.Elapsed;
            var eta = TimeSpan.FromSeconds(elapsed.TotalSeconds / (step + 1 - startStep) * (total - step - 1));
            last = new StepMetrics(step + 1, total, epochProgress, values, elapsed, eta);
            log.Append(last);
            OnStep?.Invoke(last);

            bool end = step + 1 == total;
            if (Evaluate is not null && (end || Options.EvalSteps > 0 && (step + 1) % Options.EvalSteps == 0))
            {
                lastEval = RunEvaluation(step + 1, total, epochProgress, clock.Elapsed, eta);
                log.Append(lastEval);
                OnStep?.Invoke(lastEval);
            }
            if (end || Options.SaveSteps > 0 && (step + 1) % Options.SaveSteps == 0)
                lastCheckpoint = SaveCheckpoint(step + 1, optimizer);
        }

        string final = Path.Combine(OutputDirectory, "final");
        WriteAtomically(final, dir => SaveModel(dir).GetAwaiter().GetResult());
        return new TrainResult(final, total, last, lastEval);
    }

    /// <summary>
    /// Forward and backward of a step's micro-batches. On the CPU, without activation checkpointing, they run several at
    /// once (<see cref="CpuWorkers"/>; tiny's SFT step: one core's ops are too small for libtorch to split), each
    /// differentiated into gradients of its own, which are then summed in micro-batch order, the order in which backward
    /// would have accumulated them one after another: the same sums, bit for bit, however many ran at once.
    /// (Checkpointed blocks run backward inside their own backward, into the parameters' gradients, so those steps run
    /// their micro-batches one after another.) Several micro-batches at once hold their activations and gradients at
    /// once: the memory plan counts one micro-batch; STEPDPO_THREADS=1 runs them one at a time.
    /// </summary>
    MicroResult[] RunMicroBatches(List<int[]> micro, double totalWeight)
    {
        int workers = Options.GradientCheckpointing ? 1 : CpuWorkers.For(Model.Device);
        if (workers <= 1 || micro.Count <= 1)
            return micro.Select(batch => GuardMemory(() => RunMicroStep(batch, WeightOf(batch) / totalWeight, loss => loss.backward()))).ToArray();

        var parameters = Trainable.Select(t => (Tensor)t.Parameter).ToList();
        var results = new MicroResult[micro.Count];
        var grads = new Tensor?[micro.Count][];
        CpuWorkers.Run(Enumerable.Range(0, micro.Count).ToList(), workers, k =>
        {
            using var scope = NewDisposeScope(); // this thread's tensors are freed on this thread
            results[k] = GuardMemory(() => RunMicroStep(micro[k], WeightOf(micro[k]) / totalWeight, loss =>
                grads[k] = autograd.grad([loss], parameters, allow_unused: true)
                    .Select(g => g is null || g.IsInvalid ? null : g.DetachFromDisposeScope()).ToArray()));
        });
        using var _ = no_grad();
        for (int i = 0; i < parameters.Count; i++)
            foreach (var mine in grads)
            {
                if (mine?[i] is not Tensor g) continue;
                if (Trainable[i].Parameter.grad is Tensor sum) sum.add_(g);
                else Trainable[i].Parameter.grad = g; // the parameter holds its own reference
                g.Dispose();
            }
        return results;
    }

    StepMetrics RunEvaluation(int step, int total, double epoch, TimeSpan elapsed, TimeSpan eta)
    {
        Model.Module.eval();
        IReadOnlyDictionary<string, double> values;
        using (no_grad()) using (NewDisposeScope()) values = GuardMemory(() => Evaluate!());
        Model.Module.train();
        return new StepMetrics(step, total, epoch, values.ToDictionary(kv => "eval_" + kv.Key, kv => kv.Value), elapsed, eta, IsEval: true);
    }

    static T GuardMemory<T>(Func<T> run)
    {
        try { return run(); }
        catch (Exception e) when (e is OutOfMemoryException || e is ExternalException && IsOutOfMemory(e.Message))
        {
            throw new StepDpoException("train: out of memory during forward/backward; lower 'micro_batch_size' (raise " +
                "'gradient_accumulation_steps' to keep the global batch), lower 'max_length' / 'max_prompt_length', or set " +
                "'gradient_checkpointing: true'", e);
        }
    }

    static bool IsOutOfMemory(string message) =>
        message.Contains("out of memory", StringComparison.OrdinalIgnoreCase) ||
        message.Contains("can't allocate memory", StringComparison.OrdinalIgnoreCase) ||
        message.Contains("Tried to allocate", StringComparison.OrdinalIgnoreCase);

    static void Diverged(string what, double value, int step, double epoch, string? lastCheckpoint) =>
        throw new TrainingDivergedException(
            $"train: {what} is {value} at step {step + 1} (epoch {epoch:0.##}); stopped without saving. " +
            (lastCheckpoint is null ? "No checkpoint was written before it. " : $"Last good checkpoint: {lastCheckpoint}. ") +
            "Lower 'learning_rate' or 'beta', set 'max_grad_norm', or check the data.");

    // ---- checkpoints -------------------------------------------------------------------------------------------

    const string StateFile = "trainer_state.json";
    const string OptimizerFile = "optimizer.safetensors";

    sealed record TrainerState(int Step, int Seed, string DataKey, string TrajectoryKey, string RngState);

    /// <summary>Options that change the trajectory; a checkpoint written under others is not resumed.</summary>
    string TrajectoryKey => JsonSerializer.Serialize(Options with { SaveSteps = 0, SaveTotalLimit = 1, EvalSteps = 0 });

    string SaveCheckpoint(int step, AdamW optimizer)
    {
        string dir = Path.Combine(OutputDirectory, $"checkpoint-{step}");
        WriteAtomically(dir, tmp =>
        {
            SaveModel(tmp).GetAwaiter().GetResult();
            optimizer.Save(Path.Combine(tmp, OptimizerFile));
            using var rng = random.get_rng_state();
            var state = new TrainerState(step, Options.Seed, DataKey, TrajectoryKey, Convert.ToBase64String(rng.bytes.ToArray()));
            File.WriteAllText(Path.Combine(tmp, StateFile), JsonSerializer.Serialize(state));
        });
        foreach (var old in Checkpoints().SkipLast(Options.SaveTotalLimit)) Discard(old.Dir);
        SweepIncomplete();
        return dir;
    }

    /// <summary>Deletes a checkpoint so that a kill midway never leaves a half-deleted folder that still looks like one:
    /// it is renamed first (one step), then deleted.</summary>
    static void Discard(string dir)
    {
        string trash = dir + ".deleting";
        Directory.Move(dir, trash);
        Directory.Delete(trash, recursive: true);
    }

    /// <summary>Removes what a killed run left under checkpoint-*: a folder being written (.tmp), being deleted
    /// (.deleting), or without its trainer state. Found by the kill tests: a run killed while deleting an old checkpoint
    /// left part of it, which no later run recognised as a checkpoint nor removed.</summary>
    void SweepIncomplete()
    {
        var complete = Checkpoints().Select(c => c.Dir).ToHashSet();
        foreach (var dir in Directory.EnumerateDirectories(OutputDirectory, "checkpoint-*").Where(d => !complete.Contains(d)).ToList())
            Directory.Delete(dir, recursive: true);
    }

    /// <summary>Writes into dir.tmp, then renames, so a kill mid-write never leaves a half checkpoint that looks whole.</summary>
    static void WriteAtomically(string dir, Action<string> write)
    {
        string tmp = dir + ".tmp";
        if (Directory.Exists(tmp)) Directory.Delete(tmp, true);
        Directory.CreateDirectory(tmp);
        write(tmp);
        if (Directory.Exists(dir)) Directory.Delete(dir, true);
        Directory.Move(tmp, dir);
    }

    IEnumerable<(int Step, string Dir)> Checkpoints() =>
        Directory.EnumerateDirectories(OutputDirectory, "checkpoint-*")
            .Select(d => (Ok: int.TryParse(Path.GetFileName(d)["checkpoint-".Length..], out int s), Step: s, Dir: d))
            .Where(c => c.Ok && File.Exists(Path.Combine(c.Dir, StateFile)))
            .OrderBy(c => c.Step).Select(c => (c.Step, c.Dir));

    (int Step, string? Dir) Resume(AdamW optimizer)
    {
        if (Directory.Exists(OutputDirectory)) SweepIncomplete();
        if (!Checkpoints().Any()) return (0, null);
        var (step, dir) = Checkpoints().Last();
        string statePath = Path.Combine(dir, StateFile);
        var state = JsonSerializer.Deserialize<TrainerState>(File.ReadAllText(statePath))
                    ?? throw new StepDpoException($"{statePath}: empty trainer state");
        if (state.DataKey != DataKey)
            throw new StepDpoException($"{statePath}: key 'DataKey': the checkpoint was trained on other data; delete {OutputDirectory} to start over");
        if (state.TrajectoryKey != TrajectoryKey)
            throw new StepDpoException($"{statePath}: key 'TrajectoryKey': the checkpoint was written with other train options; delete {OutputDirectory} to start over");
        try { optimizer.Load(Path.Combine(dir, OptimizerFile)); }
        catch (InvalidDataException e) { throw new StepDpoException(e.Message, e); }
        using var rng = random.get_rng_state();
        rng.bytes = Convert.FromBase64String(state.RngState);
        random.set_rng_state(rng);
        return (step, dir);
    }
}
