using System.Text.Json.Serialization;
using StepDpo.Core;
using StepDpo.Core.Graph;
using StepDpo.Core.Manifests;
using StepDpo.Data;
using StepDpo.Stages.Implementations;
using StepDpo.Stages.Models;
using StepDpo.Text;
using StepDpo.Torch.Training;
using StepDpo.Torch.Training.Trl;

namespace StepDpo.Stages.Training;

/// <summary>
/// `trl`: the same hyperparameters as a TRL DPOTrainer job on GPUs (accelerate + DeepSpeed ZeRO-3) in the dialect of
/// train.trl.version: pairs.jsonl (public Step-DPO format, for provenance), TRL's rows, config, the shipped Step-DPO
/// scripts, accelerate_zero3.yaml, requirements.txt and launch.sh go into the stage directory, and the job runs when
/// `accelerate` is on PATH (its output, secrets masked, also goes to train.log). A finished job's output/ becomes
/// final/ and its log history metrics.jsonl; a rerun whose output/ is already complete (e.g. launch.sh run by hand on a
/// GPU node) imports it without the launcher. Without the launcher and without output the stage stops after writing
/// the files. The nodes of the job (trl.machines, machine_rank, main_process_ip/port) decide where it runs, not what
/// it trains: they are read outside the key.
/// </summary>
public sealed class TrlTrainer : TrainerBackend
{
    public override string Name => "trl";

    public sealed record Settings(TrainSection Train, string TrlVersion)
    {
        [JsonIgnore] public TrlSection Nodes { get; init; } = new();
    }

    public override object Read(ManifestReader<Manifest> m) =>
        new Settings(m.GetExcept(x => x.Train, t => t.Backend, t => t.Trl), m.Get(x => x.Train.Trl.Version)) { Nodes = m.GetUnkeyed(x => x.Train.Trl) };

    /// <summary>The export written to a scratch folder (a key TRL would reject fails here, not on the GPU node), and the
    /// launch as the first step that needs GPUs.</summary>
    public override void Check(ReadinessCheck check, object settings, ModelSection model, long seed)
    {
        var s = (Settings)settings;
        var (train, n) = (s.Train, s.Nodes);
        check.Try(() =>
        {
            var dialect = TrlDialect.Of(s.TrlVersion);
            var job = new TrlJob(train.NumDevices, n.Machines, n.MachineRank, n.MainProcessIp, n.MainProcessPort, train.Offload);
            string scratch = Directory.CreateTempSubdirectory("stepdpo-plan-trl-").FullName;
            try
            {
                TrlExport.Write(scratch, [new PreferencePair("p Step 1:", " a", " b")], TrainOptionsFrom.StepDpo(train, seed),
                    model.Path ?? "model", dialect, job);
            }
            finally { Directory.Delete(scratch, true); }
            check.Gpu = $"{TrlExport.Launcher} launch: TRL {dialect.Version} + DeepSpeed ZeRO-3, {job.Processes} GPUs on {job.Machines} node(s)" +
                (train.Offload != "none" ? $", CPU offload ({train.Offload})" : "") +
                (TrlOutput.LauncherAvailable() ? "" : $"; `{TrlExport.Launcher}` is not on PATH here: the stage writes launch.sh for a GPU node");
        });
    }

    public override Task RunAsync(TrainJob job, object settings, CancellationToken ct)
    {
        var (ctx, s) = (job.Context, (Settings)settings);
        var train = s.Train;
        if (train.PerDeviceBatchSize is null)
            throw new StepDpoException("train.per_device_batch_size: auto is planned for the local trainer; set a number for train.backend trl");
        string output = ctx.File(TrlExport.OutputFolder);
        var dialect = TrlDialect.Of(s.TrlVersion);
        if (TrlOutput.Incomplete(output) is { } notYet)
        {
            var options = TrainOptionsFrom.StepDpo(train, ctx.Seed(job.Seed, "train"));
            var n = s.Nodes;
            var launchJob = new TrlJob(train.NumDevices, n.Machines, n.MachineRank, n.MainProcessIp, n.MainProcessPort, train.Offload);
            PairFile.Write(ctx.File(PairsStage.FileName), job.Pairs);
            var launch = TrlExport.Write(ctx.Dir, Rows(job.Pairs, job.Model.Template), options,
                ModelStore.StartModelDir(ctx, job.Model, job.StartModel), dialect, launchJob);
            int? exit = TrlOutput.RunIfAvailable(launch, ctx.File("train.log"), ctx.Progress.Info, ct);
            if (exit is null)
                throw new StepDpoException($"train.backend trl: wrote {string.Join(", ", [PairsStage.FileName, .. launch.Files])} to {Workspace.Display(ctx.Dir)}, " +
                    $"but `{TrlExport.Launcher}` is not on PATH, so nothing was trained ({notYet}). On a GPU node: " +
                    $"`pip install -r requirements.txt && sh {Workspace.Display(Path.Combine(ctx.Dir, "launch.sh"))}`, then rerun this stage (it imports output/).");
            if (exit != 0) throw new StepDpoException($"train.backend trl: launch.sh exited with {exit}; see {Workspace.Display(ctx.File("train.log"))}");
        }
        var imported = TrlOutput.Import(output, ctx.File(ModelStore.ModelFolder), ctx.Dir);
        ctx.Counters["trl_version"] = dialect.Version;
        ctx.Count("steps", imported.Steps);
        foreach (var (k, v) in imported.Summary) ctx.Counters[$"trl_{k}"] = System.Math.Round(v, 5);
        ctx.RecordFinalMetrics(imported.LastTrainRow);
        return Task.CompletedTask;
    }

    /// <summary>TRL's rows: the template-rendered prompt with the correct steps so far, and the two steps.</summary>
    public static List<PreferencePair> Rows(IEnumerable<StepDpoPair> pairs, string template) =>
        pairs.Select(p => new PreferencePair(PromptTemplates.TrainingCondition(template, p.Prompt, p.InitialReasonSteps), p.Chosen, p.Rejected)).ToList();
}
