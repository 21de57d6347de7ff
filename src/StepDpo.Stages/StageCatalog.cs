using StepDpo.Core;
using StepDpo.Core.Graph;
using StepDpo.Core.Manifests;
using StepDpo.Data.Hub;
using StepDpo.Torch.Devices;

namespace StepDpo.Stages;

/// <summary>
/// The Step-DPO pipeline: sft (optional) -> sample -> verify -> pairs -> train -> evaluate -> report.
/// Each entry says which upstream artifacts and which manifest sections the stage reads; that is its cache key.
/// Stages whose implementation has not landed are <see cref="PendingStage"/>s: they plan, but refuse to run.
/// </summary>
public static class StageCatalog
{
    public static readonly string[] Order = { "sft", "sample", "verify", "pairs", "train", "evaluate", "report" };

    public static IReadOnlyList<Stage> Create(IReadOnlyDictionary<string, Stage>? implementations = null)
    {
        Stage Pick(string name, string[] deps, Func<Manifest, object> config) =>
            implementations is not null && implementations.TryGetValue(name, out var s) ? s : new PendingStage(name, deps, config);
        return Order.Select(name => Gate(name, Pick(name, Upstream[name], Config[name]))).ToList();
    }

    public static readonly IReadOnlyDictionary<string, string[]> Upstream = new Dictionary<string, string[]>
    {
        ["sft"] = Array.Empty<string>(),
        ["sample"] = new[] { "sft" },
        ["verify"] = new[] { "sft", "sample" },
        ["pairs"] = new[] { "sft", "sample", "verify" },
        ["train"] = new[] { "sft", "pairs" },
        ["evaluate"] = new[] { "sft", "train" },
        ["report"] = new[] { "sft", "sample", "verify", "pairs", "train", "evaluate" },
    };

    /// <summary>What of the manifest each stage reads. The start model matters to every stage that runs it; sample,
    /// verify (rollouts), pairs (rectification) and evaluate grade answers with evaluate.grader.</summary>
    public static readonly IReadOnlyDictionary<string, Func<Manifest, object>> Config = new Dictionary<string, Func<Manifest, object>>
    {
        ["sft"] = m => new { m.Seed, m.Model, Device = DeviceKind(m), Data = SftData(m), m.Sft },
        ["sample"] = m => WithServer(m, m.Sample.Backend, new { m.Seed, m.Model, Device = DeviceKind(m), m.Data, m.Sample, Grader = Grader(m) }),
        ["verify"] = m => new { m.Seed, m.Model, Device = DeviceKind(m), m.Verify, Grader = Grader(m) },
        ["pairs"] = m => m.Pairs.From is null
            ? new { m.Seed, m.Model, Device = DeviceKind(m), m.Pairs, Grader = Grader(m) }
            : new { m.Seed, m.Model.Template, m.Pairs } as object,
        ["train"] = m => new { m.Seed, m.Model, Device = DeviceKind(m), m.Train },
        ["evaluate"] = m => WithServer(m, m.Evaluate.Backend, m.Evaluate.Benchmarks.Any(b => b.Source == "synthetic")
            ? new { m.Seed, m.Model, Device = DeviceKind(m), Data = TestData(m), m.Evaluate, Grader = Grader(m) }
            : new { m.Seed, m.Model, Device = DeviceKind(m), m.Evaluate, Grader = Grader(m) } as object),
        // report.md embeds the whole resolved manifest (besides report, expect and the sft/train hyperparameters it
        // tabulates), so every value of it changes the report.
        ["report"] = m => m,
    };

    /// <summary>The grader and the version of its verdicts (a grader fix regrades what was graded before).</summary>
    static object Grader(Manifest m) => new { Name = m.Evaluate.Grader, Answers.Grading.Version };

    /// <summary>cpu or cuda: the kind of device model.device resolves to here. The numbers a stage computes depend on
    /// it, so `auto` on a GPU machine and on a CPU machine are different keys.</summary>
    static string DeviceKind(Manifest m) => DeviceSpec.Kind(m.Model.Device);

    /// <summary>A stage that starts its own server (backend vllm or sglang) adds the serve settings that change what the
    /// server generates: the context limit (longer requests fail) and the extra arguments (e.g. --quantization). The
    /// engine (the backend) and the dtype (model.dtype) are keyed already. The command, ports, timeouts, environment
    /// and tensor-parallel size are not: they decide where and how fast the same model runs (a different TP size
    /// changes only the order of float sums, as batch composition does), so moving a 72B run from 8 GPUs to 4 keeps
    /// its cache. Other backends keep their key unchanged.</summary>
    static object WithServer(Manifest m, string backend, object key) => Serving.ServerLaunch.IsManaged(backend)
        ? new { Stage = key, Serve = new { m.Serve.MaxModelLen, m.Serve.ExtraArgs } }
        : key;

    /// <summary>The data sft reads: for the synthetic world its training split and knobs, not the pool or the test
    /// size, so resizing those keeps the trained model cached. Keys keep the manifest's paths for "changed:" reasons.</summary>
    static object SftData(Manifest m)
    {
        if (m.Data.Source != "synthetic") return m.Data;
        var s = m.Data.Synthetic;
        return new { m.Data.Source, Synthetic = new { s.Train, s.MinSteps, s.MaxSteps, s.MaxStart, s.MaxAddend, s.MaxFactor, s.MaxValue, s.ErrorHabit } };
    }

    /// <summary>The held-out split a synthetic benchmark is drawn from.</summary>
    static object TestData(Manifest m)
    {
        var s = m.Data.Synthetic;
        return new { Synthetic = new { s.Test, s.MinSteps, s.MaxSteps, s.MaxStart, s.MaxAddend, s.MaxFactor, s.MaxValue } };
    }

    /// <summary>Which stages a manifest turns off, and why.</summary>
    public static string? DisabledReason(string stage, Manifest m) => stage switch
    {
        "sft" when m.Sft is null => "no sft section: the model is used as it is",
        "sft" when !m.Sft.Enabled => "sft.enabled is false",
        "sample" or "verify" when m.Pairs.From is not null => $"pairs.from is set: pairs come from {m.Pairs.From}",
        _ => null,
    };

    /// <summary>Files outside the artifact store that a stage reads: the start model folder and data files.</summary>
    public static IEnumerable<string> ExternalFiles(string stage, Manifest m, Workspace ws)
    {
        string Resolve(string p) => Path.IsPathRooted(p) ? p : Path.Combine(ws.Root, p);
        bool readsModel = stage is "sft" || (m.Sft is null || !m.Sft.Enabled) && stage is "sample" or "verify" or "pairs" or "train" or "evaluate";
        // Hub ids count by their cached snapshot (never downloaded here): a new commit of a branch changes the key.
        if (readsModel && m.Model.Path is { } model
            && HubSnapshots.ResolveLocal(model, ws.Root, HubRepoType.Model, HubSelection.Model, m.Model.Revision) is { } modelDir) yield return modelDir;
        if (stage is "sft" or "sample" && m.Data.Path is { } data) yield return Resolve(data);
        if (stage is "pairs" && m.Pairs.From is { } from
            && HubSnapshots.ResolveLocal(from, ws.Root, HubRepoType.Dataset, HubSelection.Dataset) is { } pairsPath) yield return pairsPath;
        if (stage is "evaluate")
            foreach (var b in m.Evaluate.Benchmarks)
                if (b.Path is { } p) yield return Resolve(p);
        // The report shows the compared experiment's evaluation: when it finishes, the report's key changes.
        if (stage is "report" && ComparedSummaryPath(m, ws, out _) is { } summary) yield return summary;
    }

    /// <summary>The summary.json of report.compare_with's evaluation when it is finished (its evaluate stage cached for
    /// its current manifest), else null; <paramref name="experiment"/> is the compared experiment (null: none).</summary>
    public static string? ComparedSummaryPath(Manifest m, Workspace ws, out string? experiment)
    {
        experiment = m.Report.CompareWith is { } other && other != m.Name ? other : null;
        if (experiment is null) return null;
        // Planned only up to evaluate, so two reports that compare with each other never recurse.
        var evaluate = Pipeline.Graph(ws).Plan(ManifestLoader.Load(experiment, ws), until: "evaluate").Stages
            .FirstOrDefault(s => s.Name == "evaluate");
        string? path = evaluate is { Status: StageStatus.Cached, Dir: { } dir } ? Path.Combine(dir, "summary.json") : null;
        return path is not null && File.Exists(path) ? path : null;
    }

    static Stage Gate(string name, Stage inner) => new GatedStage(name, inner);

    /// <summary>Adds the catalog's rules (dependencies, disabling, external files) around an implementation.</summary>
    sealed class GatedStage(string name, Stage inner) : Stage
    {
        public override string Name => name;
        public override int Version => inner.Version;
        public override bool IsImplemented => inner.IsImplemented;
        public override IReadOnlyList<string> DependsOn(Manifest m) =>
            name == "pairs" && m.Pairs.From is not null ? new[] { "sft" } : Upstream[name];
        public override string? DisabledReason(Manifest m) => StageCatalog.DisabledReason(name, m);
        public override object KeyConfig(Manifest m) => Config[name](m);
        public override IEnumerable<string> ExternalInputs(Manifest m, Workspace ws) => ExternalFiles(name, m, ws);
        public override Task RunAsync(StageContext ctx, CancellationToken ct) => inner.RunAsync(ctx, ct);
    }
}
