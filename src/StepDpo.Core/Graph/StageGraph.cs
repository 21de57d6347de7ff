using System.Text.Json.Nodes;
using StepDpo.Core.Artifacts;
using StepDpo.Core.Manifests;

namespace StepDpo.Core.Graph;

public sealed record RunOptions(string? Until = null, IReadOnlySet<string>? Force = null);

public enum StageEventKind { Cached, Started, Completed, Failed, Disabled }

public sealed record StageEvent(string Stage, StageEventKind Kind, string? Dir, string Message,
    IReadOnlyDictionary<string, double>? Metrics = null);

/// <summary>
/// The pipeline as a chain of cached stages. Artifacts live in the store shared by every experiment,
/// ARTIFACTS/store/STAGE/KEY/ (see <see cref="ArtifactStore"/>); a stage runs in KEY.partial/ and becomes KEY/ by one
/// rename after its stage.json is written, so a killed run never looks complete and the next run with the same inputs,
/// of this experiment or another, resumes in the same partial directory. A run holds the key it writes locked; a run
/// of another experiment that needs the same key waits for it and reuses it. ARTIFACTS/EXPERIMENT/STAGE is the
/// experiment's view of the artifact its last run used, which is also what "stale: changed ..." compares with.
/// </summary>
public sealed class StageGraph(IReadOnlyList<Stage> catalog, Workspace workspace)
{
    readonly ArtifactStore store = new(workspace.ArtifactsDir);

    public IReadOnlyList<Stage> Catalog { get; } = catalog;

    public Stage Find(string name) => Catalog.FirstOrDefault(s => s.Name == name)
        ?? throw new StepDpoException($"unknown stage '{name}'" +
            (ManifestBinder.Suggest(name, Catalog.Select(s => s.Name)) is { } hint ? $"; did you mean '{hint}'?" : "") +
            $" (stages: {string.Join(", ", Catalog.Select(s => s.Name))})");

    public Plan Plan(ResolvedManifest resolved, string? until = null)
    {
        var m = resolved.Manifest;
        int last = until is null ? Catalog.Count - 1 : Catalog.ToList().IndexOf(Find(until));
        var hasher = new ContentHasher(Path.Combine(workspace.ArtifactsDir, ".hashes.json"));
        var keys = new Dictionary<string, string>();
        var planned = new List<PlannedStage>();
        for (int i = 0; i <= last; i++)
        {
            var stage = Catalog[i];
            // Whether the stage runs, what it depends on and its slice are read through one recording reader: every
            // key read here can change the stage's key (or whether it has one).
            var reader = ManifestReader.Of(m);
            if (stage.DisabledReason(reader) is { } why)
            {
                planned.Add(new PlannedStage(stage.Name, null, StageStatus.Disabled, why, null, Array.Empty<string>(), null) { Reads = reader.Keyed });
                continue;
            }
            var upstream = stage.DependsOn(reader).Where(keys.ContainsKey).ToList();
            object slice = stage.Slice(reader);
            var inputs = new KeyInputs(
                stage.Name,
                stage.Version,
                ManifestWriter.ToJsonElement(slice),
                new SortedDictionary<string, string>(upstream.ToDictionary(u => u, u => keys[u]), StringComparer.Ordinal),
                new SortedDictionary<string, string>(stage.ExternalInputs(slice, workspace)
                    .Distinct()
                    .ToDictionary(KeyPath, f => hasher.Hash(f)), StringComparer.Ordinal));
            string key = ContentHasher.HashText(ManifestWriter.ToCanonicalJson(inputs))[..16];
            keys[stage.Name] = key;
            store.MoveOldLayout(m.Name, stage.Name);
            string dir = store.Dir(stage.Name, key);
            var (status, reason) = Status(m, stage, dir, inputs);
            planned.Add(new PlannedStage(stage.Name, key, status, reason, dir, upstream, inputs)
            {
                Slice = slice, Reads = reader.Keyed, UnkeyedReads = reader.Unkeyed,
            });
        }
        hasher.Save();
        return new Plan(m.Name, planned);
    }

    /// <summary>An input file as a key names it: relative to the workspace when inside it, with '/', so that keys (and
    /// the store's sharing) do not depend on the folder stepdpo runs from or on the operating system.</summary>
    string KeyPath(string file)
    {
        string relative = Path.GetRelativePath(workspace.Root, file);
        return (relative.StartsWith("..") || Path.IsPathRooted(relative) ? Path.GetFullPath(file) : relative).Replace('\\', '/');
    }

    (StageStatus, string) Status(Manifest m, Stage stage, string dir, KeyInputs inputs)
    {
        if (StageRecord.TryRead(dir) is not null) return (StageStatus.Cached, "complete artifact for these inputs");
        string partialNote = Directory.Exists(dir + ArtifactStore.PartialSuffix) ? "; a killed run left a partial artifact, the next run resumes it" : "";
        var previous = store.ViewTarget(m.Name, stage.Name) is { } used ? StageRecord.TryRead(used) : null;
        if (previous is null) return (StageStatus.Missing, "never run" + partialNote);
        return (StageStatus.Stale, "changed: " + Differences(previous, inputs) + partialNote);
    }

    /// <summary>Names what differs between the newest complete artifact and the current inputs.</summary>
    static string Differences(JsonNode previous, KeyInputs now)
    {
        var changes = new List<string>();
        var old = previous["inputs"];
        if (old?["version"]?.GetValue<int>() != now.Version) changes.Add($"stage implementation (v{old?["version"]} -> v{now.Version})");
        var oldConfig = Flatten(old?["config"]);
        var newConfig = Flatten(JsonNode.Parse(now.Config.GetRawText()));
        foreach (var k in oldConfig.Keys.Union(newConfig.Keys).Order(StringComparer.Ordinal))
        {
            oldConfig.TryGetValue(k, out var a);
            newConfig.TryGetValue(k, out var b);
            if (a != b) changes.Add($"{k} ({a ?? "unset"} -> {b ?? "unset"})");
        }
        var oldUp = old?["upstream"]?.AsObject().ToDictionary(p => p.Key, p => p.Value?.ToString()) ?? new();
        foreach (var (name, key) in now.Upstream)
            if (!oldUp.TryGetValue(name, out var k) || k != key) changes.Add($"upstream '{name}'");
        var oldFiles = old?["files"]?.AsObject().ToDictionary(p => p.Key, p => p.Value?.ToString()) ?? new();
        foreach (var (file, hash) in now.Files)
            if (!oldFiles.TryGetValue(file, out var h) || h != hash) changes.Add($"input file {file}");
        return changes.Count == 0 ? "inputs" : string.Join(", ", changes.Take(6)) + (changes.Count > 6 ? $" and {changes.Count - 6} more" : "");
    }

    static Dictionary<string, string> Flatten(JsonNode? node, string prefix = "")
    {
        var result = new Dictionary<string, string>();
        switch (node)
        {
            case JsonObject o:
                foreach (var (k, v) in o)
                    foreach (var kv in Flatten(v, prefix == "" ? k : $"{prefix}.{k}")) result[kv.Key] = kv.Value;
                break;
            case null:
                result[prefix] = "null";
                break;
            default:
                result[prefix] = node.ToJsonString();
                break;
        }
        return result;
    }

    /// <summary>Runs the plan: cached stages are skipped, the rest run in order. Returns the final plan.</summary>
    public async Task<Plan> RunAsync(ResolvedManifest resolved, RunOptions options, IProgressReporter progress,
        Action<StageEvent>? onEvent = null, CancellationToken ct = default)
    {
        var m = resolved.Manifest;
        foreach (var f in options.Force ?? new HashSet<string>()) Find(f);
        var plan = Plan(resolved, options.Until);
        using var storeLock = await StoreLocks.Run(store, progress.Info, ct);
        var dirs = new Dictionary<string, string>();
        bool forcing = false;
        foreach (var p in plan.Stages)
        {
            ct.ThrowIfCancellationRequested();
            if (p.Status == StageStatus.Disabled)
            {
                onEvent?.Invoke(new StageEvent(p.Name, StageEventKind.Disabled, null, p.Reason));
                continue;
            }
            forcing |= options.Force?.Contains(p.Name) ?? false;
            string dir = p.Dir!;
            dirs[p.Name] = dir;
            if (p.Status == StageStatus.Cached && !forcing)
            {
                store.SetView(m.Name, p.Name, p.Key!);
                onEvent?.Invoke(new StageEvent(p.Name, StageEventKind.Cached, dir, "cached", ReadMetrics(dir)));
                continue;
            }
            using (await StoreLocks.Key(dir, progress.Info, ct))
            {
                if (!forcing && StageRecord.TryRead(dir) is not null)
                {
                    // Another run (of any experiment) wrote this key while this one waited for its lock.
                    store.SetView(m.Name, p.Name, p.Key!);
                    onEvent?.Invoke(new StageEvent(p.Name, StageEventKind.Cached, dir, "cached (written by another run meanwhile)", ReadMetrics(dir)));
                    continue;
                }
                if (forcing)
                {
                    if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
                    if (Directory.Exists(dir + ArtifactStore.PartialSuffix)) Directory.Delete(dir + ArtifactStore.PartialSuffix, recursive: true);
                }
                await RunStage(resolved, Find(p.Name), p, dir, dirs, progress, onEvent, ct);
                store.SetView(m.Name, p.Name, p.Key!);
            }
        }
        return Plan(resolved, options.Until);
    }

    async Task RunStage(ResolvedManifest resolved, Stage stage, PlannedStage p, string dir,
        IReadOnlyDictionary<string, string> upstreamDirs, IProgressReporter progress, Action<StageEvent>? onEvent, CancellationToken ct)
    {
        string partial = dir + ArtifactStore.PartialSuffix;
        Directory.CreateDirectory(partial);
        var ctx = new StageContext
        {
            Workspace = workspace,
            StageName = stage.Name,
            Key = p.Key!,
            Dir = partial,
            UpstreamDirs = p.Upstream.ToDictionary(u => u, u => upstreamDirs[u]),
            Progress = progress,
        };
        var started = DateTimeOffset.UtcNow;
        onEvent?.Invoke(new StageEvent(stage.Name, StageEventKind.Started, partial, "running"));
        try
        {
            await stage.Execute(ctx, p.Slice!, ct);
        }
        catch (Exception e)
        {
            onEvent?.Invoke(new StageEvent(stage.Name, StageEventKind.Failed, partial, e.Message));
            throw;
        }
        var record = new StageRecord
        {
            Stage = stage.Name,
            Experiment = resolved.Manifest.Name,
            Key = p.Key!,
            Version = stage.Version,
            Inputs = p.Inputs!,
            Manifest = ManifestWriter.ToJsonElement(resolved.Manifest),
            ManifestFiles = resolved.Files.Select(Workspace.Display).ToList(),
            Overrides = resolved.Overrides,
            Started = started,
            Finished = DateTimeOffset.UtcNow,
            ToolVersion = Provenance.ToolVersion,
            GitCommit = Provenance.GitCommit(workspace.Root),
            Machine = Provenance.Machine(),
            Counters = ctx.Counters,
            Metrics = ctx.Metrics,
            Outputs = StageRecord.ListOutputs(partial),
        };
        AtomicFile.WriteAllText(Path.Combine(partial, StageRecord.FileName), record.ToJson());
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        Directory.Move(partial, dir);
        onEvent?.Invoke(new StageEvent(stage.Name, StageEventKind.Completed, dir,
            $"done in {record.DurationSeconds:F1}s", ctx.Metrics));
    }

    static IReadOnlyDictionary<string, double>? ReadMetrics(string dir) =>
        StageRecord.TryRead(dir)?["metrics"]?.AsObject().ToDictionary(p => p.Key, p => p.Value!.GetValue<double>());
}
