using StepDpo.Core;

namespace StepDpo.Data.Hub;

/// <summary>
/// A repository's files at a commit, in the Hub cache: reused without the network when the cache already holds a whole
/// snapshot for the revision (a commit, or a branch whose refs/ entry the cache has), else resolved through the API
/// (the branch's commit is written to refs/) and the missing files downloaded (resuming partial blobs).
/// </summary>
public static class HubSnapshots
{
    /// <summary>The snapshot folder if the cache holds it whole; never touches the network.</summary>
    public static string? Local(HubId id, HubSelection selection, HubCache cache)
    {
        if (cache.LocalCommit(id) is not { } commit) return null;
        string dir = cache.SnapshotDir(id, commit);
        return Directory.Exists(dir) && selection.Complete(dir) ? dir : null;
    }

    public static async Task<string> GetAsync(HubId id, HubSelection selection, HubCache cache, HubClient client,
        Action<string>? progress = null, CancellationToken ct = default)
    {
        if (Local(id, selection, cache) is { } cached) return cached;
        var info = await client.InfoAsync(id, ct);
        cache.WriteRef(id, info.Commit);
        var files = selection.Choose(info.Files);
        if (files.Count == 0)
            throw new StepDpoException($"hub {id}: the repository at {info.Commit[..12]} has no {selection.What} (files: {string.Join(", ", info.Files.Take(8))})");
        foreach (var path in files)
        {
            ct.ThrowIfCancellationRequested();
            if (File.Exists(cache.FilePath(id, info.Commit, path))) continue;
            var (etag, size) = await client.HeadAsync(id, info.Commit, path, ct);
            string blob = cache.BlobPath(id, etag);
            if (!File.Exists(blob) || size is { } s && new FileInfo(blob).Length != s)
            {
                progress?.Invoke($"hub: downloading {id.Repo}/{path}{(size is { } n ? $" ({n / 1e6:F1} MB)" : "")}");
                await client.DownloadAsync(id, info.Commit, path, etag, size, blob, ct);
            }
            cache.Link(id, info.Commit, path, etag);
        }
        string dir = cache.SnapshotDir(id, info.Commit);
        if (!selection.Complete(dir))
            throw new StepDpoException($"hub {id}: the files at {info.Commit[..12]} do not make a {selection.What}");
        return dir;
    }

    /// <summary>For a stage: <paramref name="pathOrId"/> as a local file or folder (relative to <paramref name="root"/>)
    /// when it exists there, else as a Hub id resolved through the cache (downloading with the environment's options).</summary>
    public static string Resolve(string pathOrId, string root, HubRepoType type, HubSelection selection, string key,
        string? revision = null, Action<string>? progress = null, CancellationToken ct = default)
    {
        string local = Path.IsPathRooted(pathOrId) ? pathOrId : Path.Combine(root, pathOrId);
        if (File.Exists(local) || Directory.Exists(local)) return local;
        var id = HubId.TryParse(pathOrId, type, revision)
                 ?? throw new StepDpoException($"{key} '{pathOrId}' is neither a file or folder here ({local}) nor a Hub id (owner/name[@revision])");
        var options = HubOptions.FromEnvironment();
        using var client = new HubClient(options);
        return GetAsync(id, selection, new HubCache(HubCache.DefaultRoot()), client, progress, ct).GetAwaiter().GetResult();
    }

    /// <summary>Like <see cref="Resolve"/> but never downloads: the local path or cached snapshot, else null.</summary>
    public static string? ResolveLocal(string pathOrId, string root, HubRepoType type, HubSelection selection, string? revision = null)
    {
        string local = Path.IsPathRooted(pathOrId) ? pathOrId : Path.Combine(root, pathOrId);
        if (File.Exists(local) || Directory.Exists(local)) return local;
        return HubId.TryParse(pathOrId, type, revision) is { } id ? Local(id, selection, new HubCache(HubCache.DefaultRoot())) : null;
    }
}
