namespace StepDpo.Data.Hub;

/// <summary>
/// The Hub's own cache layout, shared with huggingface_hub, transformers and vLLM:
/// ROOT/models--ORG--NAME/{blobs/ETAG, refs/REVISION (a commit hash), snapshots/COMMIT/PATH -> ../../blobs/ETAG}
/// (datasets--ORG--NAME likewise). ROOT is $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub.
/// A download lands in blobs/ETAG.incomplete and is renamed when whole, so a partial blob is resumed, never used.
/// </summary>
public sealed class HubCache(string root)
{
    public string Root { get; } = root;

    public static string DefaultRoot()
    {
        foreach (var name in new[] { "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE" })
            if (Environment.GetEnvironmentVariable(name) is { Length: > 0 } dir) return dir;
        string home = Environment.GetEnvironmentVariable("HF_HOME") is { Length: > 0 } h
            ? h : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "huggingface");
        return Path.Combine(home, "hub");
    }

    public string RepoDir(HubId id) => Path.Combine(Root, $"{id.TypePlural}--{id.Repo.Replace("/", "--")}");
    public string SnapshotDir(HubId id, string commit) => Path.Combine(RepoDir(id), "snapshots", commit);
    public string BlobPath(HubId id, string etag) => Path.Combine(RepoDir(id), "blobs", etag);
    public string FilePath(HubId id, string commit, string pathInRepo) =>
        Path.Combine(SnapshotDir(id, commit), pathInRepo.Replace('/', Path.DirectorySeparatorChar));

    /// <summary>The commit a revision resolves to without the network: itself when it is a commit, else refs/REVISION.</summary>
    public string? LocalCommit(HubId id)
    {
        if (id.IsPinned) return id.Revision;
        string file = Path.Combine(RepoDir(id), "refs", id.Revision);
        return File.Exists(file) ? File.ReadAllText(file).Trim() is { Length: > 0 } c ? c : null : null;
    }

    public void WriteRef(HubId id, string commit)
    {
        if (id.IsPinned) return;
        string file = Path.Combine(RepoDir(id), "refs", id.Revision);
        Core.Artifacts.AtomicFile.WriteAllText(file, commit);
    }

    /// <summary>snapshots/COMMIT/PATH as a relative symlink to the blob (a copy where links are not allowed).</summary>
    public string Link(HubId id, string commit, string pathInRepo, string etag)
    {
        string file = FilePath(id, commit, pathInRepo);
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        string blob = BlobPath(id, etag);
        if (File.Exists(file) || new FileInfo(file).LinkTarget is not null) File.Delete(file);
        try { File.CreateSymbolicLink(file, Path.GetRelativePath(Path.GetDirectoryName(file)!, blob)); }
        catch (IOException) { File.Copy(blob, file); }
        catch (UnauthorizedAccessException) { File.Copy(blob, file); }
        return file;
    }
}
