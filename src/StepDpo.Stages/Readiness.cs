using StepDpo.Core;
using StepDpo.Core.Graph;
using StepDpo.Core.Manifests;
using StepDpo.Data;
using StepDpo.Data.Hub;
using StepDpo.Stages.Implementations;
using StepDpo.Stages.Sampling;

namespace StepDpo.Stages;

/// <summary>Whether a stage can start here and now: <see cref="Problems"/> stop it before it starts (a missing file, a
/// bad data line, a recipe TRL would reject); <see cref="Notes"/> say what it will do first (a download);
/// <see cref="Gpu"/> names the step that needs GPUs, where the stage hands over to them.</summary>
public sealed record StageReadiness(IReadOnlyList<string> Problems, IReadOnlyList<string> Notes, string? Gpu)
{
    public bool Ready => Problems.Count == 0;

    /// <summary>The readiness of a planned stage, from its slice (each stage checks what it reads; see
    /// <see cref="PipelineStage{TInput}.Check"/>).</summary>
    public static StageReadiness Of(Stage stage, PlannedStage planned, Workspace ws) =>
        stage is IReadinessCheck checks && planned.Slice is { } slice ? checks.Readiness(slice, planned.Upstream, ws) : new([], [], null);
}

/// <summary>A stage that says whether it can start (the stage implementations, through <see cref="PipelineStage{TInput}"/>).</summary>
public interface IReadinessCheck
{
    StageReadiness Readiness(object slice, IReadOnlyList<string> upstream, Workspace ws);
}

/// <summary>
/// The checks `stepdpo plan` runs for every stage that would run: inputs on disk (the model folder or its Hub cache
/// snapshot, pair and benchmark files, read through to their last line), keys only a run would trip over (the TRL
/// export is written to a scratch folder), and secrets the stage needs from the environment. Nothing is downloaded and
/// no server is contacted.
/// </summary>
public sealed class ReadinessCheck(Workspace ws)
{
    readonly List<string> problems = [], notes = [];

    public Workspace Workspace => ws;

    /// <summary>The first step that needs GPUs (the first one named wins).</summary>
    public string? Gpu { get; set; }

    public void Note(string note) => notes.Add(note);

    /// <summary>Runs a check; its error (a missing file, a bad line) is a problem of the stage.</summary>
    public void Try(Action check)
    {
        try { check(); }
        catch (StepDpoException e) { problems.Add(Secrets.Redact(e.Message)); }
        catch (IOException e) { problems.Add(Secrets.Redact(e.Message)); }
    }

    public void Secret(string? variable, string key)
    {
        if (variable is not null && string.IsNullOrEmpty(Environment.GetEnvironmentVariable(variable)))
            problems.Add($"{key}: the environment variable {variable} is not set");
    }

    /// <summary>The start model where the stage reads it: a server someone else runs, or model.path on disk (unless an
    /// upstream stage trains it).</summary>
    public void StartModel(ModelSection model, Generation? generation, bool trainedUpstream)
    {
        if (generation?.Settings is OpenAiBackend.Settings remote)
        {
            Gpu ??= $"the OpenAI-compatible model server at {remote.BaseUrl}";
            return;
        }
        if (trainedUpstream || model.Path is not { } path) return;
        if (HubSnapshots.ResolveLocal(path, ws.Root, HubRepoType.Model, HubSelection.Model, model.Revision) is { } dir)
        {
            if (!HubSelection.IsCheckpoint(dir)) problems.Add($"model.path {dir}: not a whole checkpoint (config.json, safetensors weights, tokenizer)");
            else notes.Add($"model: {Workspace.Display(dir)}");
        }
        else if (HubId.TryParse(path, HubRepoType.Model, model.Revision) is { } id)
        {
            if (HubOptions.FromEnvironment().Offline) problems.Add($"model.path {id}: not in the Hub cache ({HubCache.DefaultRoot()}) and HF_HUB_OFFLINE is set");
            else notes.Add($"model: downloads {id} into {HubCache.DefaultRoot()} first");
        }
        else problems.Add($"model.path '{path}': no such folder ({Path.Combine(ws.Root, path)}) and not a Hub id");
    }

    /// <summary>pairs.from on disk (read to the last pair), or where it will be downloaded from.</summary>
    public void PairsFrom(string from) => Try(() =>
    {
        string? path = HubSnapshots.ResolveLocal(from, ws.Root, HubRepoType.Dataset, HubSelection.Dataset);
        if (path is null)
        {
            var id = HubId.TryParse(from, HubRepoType.Dataset)
                     ?? throw new StepDpoException($"pairs.from '{from}': no such file or folder and not a Hub id");
            if (HubOptions.FromEnvironment().Offline) throw new StepDpoException($"pairs.from {id}: not in the Hub cache and HF_HUB_OFFLINE is set");
            notes.Add($"pairs: downloads {id} into {HubCache.DefaultRoot()} first");
            return;
        }
        var files = File.Exists(path) ? [path] : HubSelection.DataFiles(path).Select(f => Path.Combine(path, f)).ToList();
        if (files.Count == 0) throw new StepDpoException($"pairs.from '{from}': {path} holds no .parquet, .jsonl or .json file");
        int count = files.Sum(f => PairFile.Read(f).Count());
        notes.Add($"pairs: {count} from {Workspace.Display(path)}");
    });

    public StageReadiness Result() => new(problems, notes, Gpu);
}
