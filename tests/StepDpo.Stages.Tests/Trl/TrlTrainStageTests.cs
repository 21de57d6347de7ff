using System.Text.Json;
using StepDpo.Core;
using StepDpo.Core.Graph;
using StepDpo.Core.Manifests;
using StepDpo.Data;
using StepDpo.Stages.Models;
using StepDpo.Torch.Training;

namespace StepDpo.Stages.Tests.Trl;

/// <summary>train.backend trl through the real stage graph, with a stand-in `accelerate` on PATH (the TRL job itself
/// cannot run here): the launch arguments, the import of TRL's output as final/ (a real checkpoint, loaded back) and
/// of trainer_state.json as metrics.jsonl, and a rerun that imports a finished output/ with no launcher on PATH.</summary>
[Collection("process environment")]
public sealed class TrlTrainStageTests : IDisposable
{
    readonly StandInAccelerate env = new();

    internal static StepDpoPair Pair(int i) => new($"What is {i} + {i}?", "Let's think step by step.\nStep 1:", $" {i} + {i} = {2 * i}.",
        $" {i} + {i} = {2 * i + 1}.", "full chosen", "full rejected", $"{2 * i}", "test");

    (Workspace Ws, ResolvedManifest Manifest) Experiment(string version, string model, string pairs, string extra = "")
    {
        string root = Path.Combine(env.Root, "ws-" + version);
        Directory.CreateDirectory(Path.Combine(root, "experiments"));
        File.WriteAllText(Path.Combine(root, "experiments", "trl.yaml"), $"""
            name: trl
            model: {"{"}path: {model}, template: qwen2-boxed{"}"}
            pairs: {"{"}from: {pairs}{"}"}
            train:
              backend: trl
              num_devices: 2
              per_device_batch_size: 1
              gradient_accumulation_steps: 2
              offload: all
              trl: {"{"}version: "{version}"{"}"}
            verify: {"{"}judge: {"{"}api_key_env: JUDGE_API_KEY{"}"}{"}"}
            {extra}
            """);
        var ws = new Workspace(root, Path.Combine(root, "artifacts"));
        return (ws, ManifestLoader.Load("trl", ws));
    }

    [Theory]
    [InlineData("0.8.5", "stepdpo_trl_085.py", "stepdpo_config.yaml")]
    [InlineData("1.9.0", "stepdpo_trl.py", "--config")]
    public async Task The_job_is_launched_and_its_output_becomes_final_and_metrics(string version, string script, string configArgument)
    {
        string pairs = Path.Combine(env.Root, "pairs.jsonl");
        PairFile.Write(pairs, Enumerable.Range(1, 4).Select(Pair));
        var (ws, manifest) = Experiment(version, env.Checkpoint, pairs);
        env.OnPath(true);
        var plan = await Pipeline.Graph(ws).RunAsync(manifest, new RunOptions("train"), SilentProgressReporter.Instance);
        string dir = plan["train"].Dir!;

        var args = File.ReadAllLines(Path.Combine(dir, "accelerate-args.txt"));
        Assert.Equal(["launch", "--config_file", "accelerate_zero3.yaml", "--machine_rank", "0", script], args[..6]);
        Assert.Equal(configArgument, args[6]);
        Assert.Contains("offload_param_device: \"cpu\"", File.ReadAllText(Path.Combine(dir, "accelerate_zero3.yaml")));
        Assert.Contains($"trl=={version}", File.ReadAllText(Path.Combine(dir, "requirements.txt")));

        // final/ is the job's checkpoint, loadable as one; the job's bookkeeping stays out of it.
        string final = Path.Combine(dir, ModelStore.ModelFolder);
        Assert.Equal(File.ReadAllBytes(Path.Combine(env.Checkpoint, "model.safetensors")), File.ReadAllBytes(Path.Combine(final, "model.safetensors")));
        Assert.False(File.Exists(Path.Combine(final, "training_args.bin")));
        var (model, tokenizer) = ModelStore.Load(final, "float32", "cpu");
        using (model) Assert.True(tokenizer.VocabSize > 0);

        var rows = MetricsLog.ReadJsonl(Path.Combine(dir, MetricsLog.JsonlName));
        Assert.Equal([1.0, 2.0], rows.Select(r => r["step"]));
        Assert.Equal(0.69, rows[1]["loss"]);
        Assert.Equal(1.0, rows[1]["rewards/accuracies"]);
        Assert.DoesNotContain(rows, r => r.ContainsKey("train_runtime"));
        using var record = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "stage.json")));
        var counters = record.RootElement.GetProperty("counters");
        Assert.Equal(2, counters.GetProperty("steps").GetInt32());
        Assert.Equal(12.5, counters.GetProperty("trl_train_runtime").GetDouble());
        Assert.Equal(0.69, counters.GetProperty("final_loss").GetDouble());
        Assert.Equal(version, counters.GetProperty("trl_version").GetString());
    }

    [Fact]
    public async Task Without_the_launcher_the_files_wait_and_a_rerun_imports_a_finished_output_with_no_launcher()
    {
        string pairs = Path.Combine(env.Root, "pairs.jsonl");
        PairFile.Write(pairs, Enumerable.Range(1, 4).Select(Pair));
        var (ws, manifest) = Experiment("1.9.0", env.Checkpoint, pairs);
        env.OnPath(false);
        var e = await Assert.ThrowsAsync<StepDpoException>(() => Pipeline.Graph(ws).RunAsync(manifest, new RunOptions("train"), SilentProgressReporter.Instance));
        Assert.Contains("`accelerate` is not on PATH", e.Message);
        string partial = Pipeline.Graph(ws).Plan(manifest, "train")["train"].Dir! + ".partial";
        Assert.True(File.Exists(Path.Combine(partial, "launch.sh")));

        // Someone runs launch.sh on a GPU node (here: the stand-in, by hand) ...
        var psi = new System.Diagnostics.ProcessStartInfo(Path.Combine(env.Bin, "accelerate")) { WorkingDirectory = partial };
        using (var p = System.Diagnostics.Process.Start(psi)!) Assert.True(p.WaitForExit(60_000));
        // ... and the rerun, still without accelerate on PATH, imports it.
        var plan = await Pipeline.Graph(ws).RunAsync(manifest, new RunOptions("train"), SilentProgressReporter.Instance);
        Assert.Equal(StageStatus.Cached, plan["train"].Status);
        Assert.True(File.Exists(Path.Combine(plan["train"].Dir!, ModelStore.ModelFolder, "config.json")));
        Assert.Equal(2, MetricsLog.ReadJsonl(Path.Combine(plan["train"].Dir!, MetricsLog.JsonlName)).Count);
    }

    public void Dispose() => env.Dispose();
}
