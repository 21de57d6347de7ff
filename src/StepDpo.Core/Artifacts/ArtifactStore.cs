namespace StepDpo.Core.Artifacts;

/// <summary>
/// Where artifacts live. One content store is shared by every experiment: ARTIFACTS/store/STAGE/KEY/ is a complete
/// artifact, KEY.partial/ one being written (a rerun resumes it) and KEY.lock the lock of the run writing it. The key
/// hashes everything the artifact is made of, so experiments that ask for the same thing share it (tiny-dpo reuses
/// tiny's sft, sample and verify).
/// Each experiment has views: ARTIFACTS/EXPERIMENT/STAGE points at the store folder its last run used. On Linux and
/// macOS a view is a relative symbolic link (`cd artifacts/tiny/report` works); on Windows, where a symbolic link
/// needs Developer Mode or administrator rights, it is a one-line text file holding the same relative path. Both
/// kinds are read everywhere, so a store copied between systems keeps its views.
/// </summary>
public sealed class ArtifactStore
{
    public const string StoreFolder = "store";
    public const string PartialSuffix = ".partial";
    public const string LockSuffix = ".lock";

    readonly bool symlinks;

    public ArtifactStore(string artifactsDir, bool? symlinks = null)
    {
        Root = Path.GetFullPath(artifactsDir);
        this.symlinks = symlinks ?? !OperatingSystem.IsWindows();
    }

    /// <summary>ARTIFACTS: the store and the experiments' views.</summary>
    public string Root { get; }
    public string StoreDir => Path.Combine(Root, StoreFolder);
    public string StageDir(string stage) => Path.Combine(StoreDir, stage);
    public string Dir(string stage, string key) => Path.Combine(StoreDir, stage, key);

    /// <summary>store/.cache/NAME: data a stage reuses across keys (train's reference log-probs).</summary>
    public string CacheDir(string name) => Path.Combine(StoreDir, CacheFolder, name);
    public const string CacheFolder = ".cache";

    public string ExperimentDir(string experiment)
    {
        if (string.Equals(experiment, StoreFolder, StringComparison.OrdinalIgnoreCase))
            throw new StepDpoException($"experiment name '{experiment}' is reserved: {Workspace.Display(StoreDir)} holds the shared artifact store");
        return Path.Combine(Root, experiment);
    }

    public string View(string experiment, string stage) => Path.Combine(ExperimentDir(experiment), stage);

    /// <summary>The store folder the experiment's view of <paramref name="stage"/> points at (complete or not), or null.</summary>
    public string? ViewTarget(string experiment, string stage) => ReadView(View(experiment, stage));

    /// <summary>Where a view (link or pointer file) points; null for anything else.</summary>
    public static string? ReadView(string view)
    {
        var info = new FileInfo(view);
        string? relative = info.LinkTarget;
        if (relative is null && info.Exists && info.Length < 1024)
        {
            relative = File.ReadAllText(view).Trim().Replace('\\', '/');   // '/' works on Windows too
            if (!relative.StartsWith($"../{StoreFolder}/", StringComparison.Ordinal)) return null;
        }
        return relative is null ? null : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(view)!, relative));
    }

    /// <summary>Points the experiment's view of <paramref name="stage"/> at store/STAGE/KEY.</summary>
    public void SetView(string experiment, string stage, string key)
    {
        string view = View(experiment, stage);
        string target = Path.GetRelativePath(Path.GetDirectoryName(view)!, Dir(stage, key));
        if (ReadView(view) == Dir(stage, key)) return;
        Directory.CreateDirectory(Path.GetDirectoryName(view)!);
        if (!symlinks)
        {
            AtomicFile.WriteAllText(view, target.Replace('\\', '/') + "\n");
            return;
        }
        // Delete and create: two runs of one experiment may replace the view at the same moment; the last one wins.
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                RemoveView(view);
                Directory.CreateSymbolicLink(view, target);
                return;
            }
            catch (IOException) when (attempt < 3) { }
        }
    }

    /// <summary>Removes a view (link or pointer file), never what it points at.</summary>
    public static void RemoveView(string view)
    {
        var info = new FileInfo(view);
        if (info.LinkTarget is not null || info.Exists) info.Delete();
    }

    /// <summary>
    /// Artifacts written before the store existed lived in ARTIFACTS/EXPERIMENT/STAGE/KEY/ under the same keys: they
    /// move into the store (unless it has them already) and the folder becomes a view of the newest complete one.
    /// </summary>
    public void MoveOldLayout(string experiment, string stage)
    {
        string old = View(experiment, stage);
        if (!Directory.Exists(old) || new DirectoryInfo(old).LinkTarget is not null) return;
        string? newest = null;
        DateTime newestTime = DateTime.MinValue;
        foreach (var dir in Directory.GetDirectories(old))
        {
            string name = Path.GetFileName(dir);
            string destination = Path.Combine(StageDir(stage), name);
            if (Directory.Exists(destination)) continue;
            Directory.CreateDirectory(StageDir(stage));
            try { Directory.Move(dir, destination); }
            catch (IOException) { continue; } // another process moved it first
            var record = Path.Combine(destination, StageRecord.FileName);
            if (!name.EndsWith(PartialSuffix) && File.Exists(record) && File.GetLastWriteTimeUtc(record) > newestTime)
                (newest, newestTime) = (name, File.GetLastWriteTimeUtc(record));
        }
        try { Directory.Delete(old, recursive: true); }
        catch (IOException) { return; }
        if (newest is not null) SetView(experiment, stage, newest);
    }
}
