using StepDpo.Core.Graph;
using StepDpo.Core.Manifests;
using StepDpo.Stages.Models;

namespace StepDpo.Stages.Tests.Trl;

/// <summary>The environment a TRL stage test runs in: a real tiny checkpoint on disk, and a stand-in `accelerate` on
/// PATH that records its arguments, prints the secrets it can see (the stage must mask them), and leaves what TRL's
/// save_model + save_state leave in output/: that checkpoint's files and a trainer_state.json with a log history.</summary>
public sealed class StandInAccelerate : IDisposable
{
    public string Root { get; } = Directory.CreateTempSubdirectory("stepdpo-trl-").FullName;
    public string Bin => Path.Combine(Root, "bin");
    public string Checkpoint => Path.Combine(Root, "tiny-model");
    readonly string? savedPath = Environment.GetEnvironmentVariable("PATH");

    public const string TrainerState = """
        {"global_step": 2, "log_history": [
         {"epoch": 0.5, "step": 1, "loss": 0.6931, "grad_norm": 1.5, "learning_rate": 5e-07, "rewards/chosen": 0.0, "rewards/rejected": 0.0, "rewards/accuracies": 0.0, "rewards/margins": 0.0, "logps/chosen": -12.5, "logps/rejected": -13.0},
         {"epoch": 1.0, "step": 2, "loss": 0.69, "grad_norm": 1.25, "learning_rate": 2.5e-07, "rewards/chosen": 0.01, "rewards/rejected": -0.01, "rewards/accuracies": 1.0, "rewards/margins": 0.02, "logps/chosen": -12.4, "logps/rejected": -13.1},
         {"epoch": 1.0, "step": 2, "train_runtime": 12.5, "train_samples_per_second": 0.32, "train_loss": 0.69155, "total_flos": 0.0}
        ]}
        """;

    public StandInAccelerate()
    {
        ModelStore.CreateRandom(new ModelInit { Arch = "qwen2", Preset = "tiny", Tokenizer = "byte" }, 7, Checkpoint, "float32");
        Directory.CreateDirectory(Bin);
        File.WriteAllText(Path.Combine(Root, "trainer_state.json"), TrainerState);
        string script = $"""
            #!/bin/sh
            printf '%s\n' "$@" > accelerate-args.txt
            echo "HF_TOKEN seen by the job: $HF_TOKEN"
            echo "judge key seen by the job: $JUDGE_API_KEY" >&2
            mkdir -p output/checkpoint-2
            cp "{Checkpoint}"/* output/
            cp "{Path.Combine(Root, "trainer_state.json")}" output/trainer_state.json
            echo "binary" > output/training_args.bin
            """;
        File.WriteAllText(Path.Combine(Bin, "accelerate"), script.Replace("\r", "") + "\n");
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(Path.Combine(Bin, "accelerate"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    /// <summary>Puts the stand-in first on PATH (or takes every accelerate off it when <paramref name="on"/> is false).</summary>
    public void OnPath(bool on) => Environment.SetEnvironmentVariable("PATH", on ? $"{Bin}{Path.PathSeparator}{savedPath}" : savedPath);

    public void Dispose()
    {
        Environment.SetEnvironmentVariable("PATH", savedPath);
        try { Directory.Delete(Root, true); } catch (IOException) { }
    }
}

/// <summary>Every line a stage shows (tasks and infos), for the tests that check what reaches the console.</summary>
public sealed class RecordingProgress : IProgressReporter
{
    public List<string> Lines { get; } = [];
    public IProgressTask Start(string description, long total) { lock (Lines) Lines.Add(description); return new Task(this); }
    public void Info(string message) { lock (Lines) Lines.Add(message); }

    sealed class Task(RecordingProgress owner) : IProgressTask
    {
        public void Increment(long by = 1) { }
        public void SetValue(long value) { }
        public void SetTotal(long total) { }
        public void Describe(string description) { lock (owner.Lines) owner.Lines.Add(description); }
        public void Dispose() { }
    }
}

[CollectionDefinition("process environment", DisableParallelization = true)]
public sealed class ProcessEnvironmentCollection;
