using System.Text.Json.Nodes;

namespace StepDpo.Core.Artifacts;

/// <summary>One thing `stepdpo gc` would remove: a store folder (complete or partial) or a cached file.</summary>
/// <param name="Path">the folder or file</param>
/// <param name="What">e.g. "sft 3f2a... (complete, written by tiny)"</param>
public sealed record GarbageItem(string Path, string What, long Bytes);

/// <summary>
/// The garbage of an artifact store: every key that no manifest references, given the keys they do reference (each
/// experiment's current plan). Also the reference log-prob caches that no kept train artifact used, and views that
/// would point at nothing.
/// </summary>
public static class StoreGarbage
{
    public static IReadOnlyList<GarbageItem> Find(ArtifactStore store, IReadOnlySet<(string Stage, string Key)> keep)
    {
        var items = new List<GarbageItem>();
        if (!Directory.Exists(store.StoreDir)) return items;
        var usedCaches = new HashSet<string>(StringComparer.Ordinal);
        foreach (var stageDir in Directory.GetDirectories(store.StoreDir).Order(StringComparer.Ordinal))
        {
            string stage = Path.GetFileName(stageDir);
            if (stage == ArtifactStore.CacheFolder) continue;
            foreach (var dir in Directory.GetDirectories(stageDir).Order(StringComparer.Ordinal))
            {
                string name = Path.GetFileName(dir);
                bool partial = name.EndsWith(ArtifactStore.PartialSuffix);
                string key = partial ? name[..^ArtifactStore.PartialSuffix.Length] : name;
                var record = partial ? null : StageRecord.TryRead(dir);
                if (keep.Contains((stage, key)))
                {
                    if (record?["counters"]?["reference_logps"] is JsonValue cache) usedCaches.Add(System.IO.Path.GetFileName(cache.ToString()));
                    continue;
                }
                string state = partial ? "partial" : record is null ? "incomplete" : $"complete, written by {record["experiment"]}";
                items.Add(new GarbageItem(dir, $"{stage} {key} ({state})", Bytes(dir)));
            }
        }
        string reference = store.CacheDir("reference");
        if (Directory.Exists(reference))
            foreach (var file in Directory.GetFiles(reference).Order(StringComparer.Ordinal))
                if (!usedCaches.Contains(Path.GetFileName(file)))
                    items.Add(new GarbageItem(file, $"reference log-probs {Path.GetFileName(file)} (no kept train artifact uses them)", new FileInfo(file).Length));
        return items;
    }

    /// <summary>Removes the items, the lock files of removed keys, and every view left pointing at nothing.</summary>
    public static void Remove(ArtifactStore store, IEnumerable<GarbageItem> items)
    {
        foreach (var item in items)
        {
            if (Directory.Exists(item.Path))
            {
                Directory.Delete(item.Path, recursive: true);
                string key = item.Path.EndsWith(ArtifactStore.PartialSuffix) ? item.Path[..^ArtifactStore.PartialSuffix.Length] : item.Path;
                if (!Directory.Exists(key) && !Directory.Exists(key + ArtifactStore.PartialSuffix)) File.Delete(key + ArtifactStore.LockSuffix);
            }
            else File.Delete(item.Path);
        }
        foreach (var experiment in Directory.GetDirectories(store.Root))
        {
            if (Path.GetFileName(experiment) == ArtifactStore.StoreFolder) continue;
            foreach (var view in Directory.EnumerateFileSystemEntries(experiment))
                if (ArtifactStore.ReadView(view) is { } target && target.StartsWith(store.StoreDir) && !Directory.Exists(target))
                    ArtifactStore.RemoveView(view);
        }
    }

    public static long Bytes(string dir) =>
        Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
}
