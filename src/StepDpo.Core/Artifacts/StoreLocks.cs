namespace StepDpo.Core.Artifacts;

/// <summary>
/// Locks of the artifact store, held as open lock files: the operating system releases them when the process dies,
/// even by `kill -9`, so a killed run never leaves a lock behind. A run holds the whole store shared and each key it
/// writes exclusively; a second run that needs a key being written waits for it and then finds it complete. gc holds
/// the store exclusively, so it never deletes under a run. Lock files stay on disk (deleting one while another
/// process waits on it would let two processes hold "the" lock); gc removes those of the keys it removes.
/// </summary>
public static class StoreLocks
{
    public const string StoreLockFile = ".lock";
    static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(250);

    /// <summary>Exclusive lock of store/STAGE/KEY (dir is the artifact folder); waits while another run holds it.</summary>
    public static Task<IDisposable> Key(string dir, Action<string> onWait, CancellationToken ct) =>
        Wait(dir + ArtifactStore.LockSuffix, exclusive: true, ct, () => onWait(
            $"another run is writing {Workspace.Display(dir)}; waiting for it to finish (then this run reuses it)"));

    /// <summary>What every run holds while it runs; waits while gc is removing artifacts.</summary>
    public static Task<IDisposable> Run(ArtifactStore store, Action<string> onWait, CancellationToken ct) =>
        Wait(StorePath(store), exclusive: false, ct, () => onWait($"stepdpo gc is removing artifacts from {Workspace.Display(store.StoreDir)}; waiting for it"));

    /// <summary>gc's lock: null while any run holds the store.</summary>
    public static IDisposable? TryExclusive(ArtifactStore store) => TryOpen(StorePath(store), exclusive: true);

    static string StorePath(ArtifactStore store) => Path.Combine(store.StoreDir, StoreLockFile);

    static async Task<IDisposable> Wait(string path, bool exclusive, CancellationToken ct, Action onFirstWait)
    {
        bool told = false;
        while (true)
        {
            if (TryOpen(path, exclusive) is { } held) return held;
            if (!told) { onFirstWait(); told = true; }
            await Task.Delay(Poll, ct);
        }
    }

    /// <summary>FileShare.None takes an exclusive lock (flock LOCK_EX on Unix, a sharing lock on Windows); read access
    /// with FileShare.ReadWrite a shared one, which excludes only the exclusive holder.</summary>
    static FileStream? TryOpen(string path, bool exclusive)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        try
        {
            return exclusive
                ? new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None)
                : new FileStream(path, FileMode.OpenOrCreate, FileAccess.Read, FileShare.ReadWrite);
        }
        catch (IOException) when (File.Exists(path))
        {
            return null;
        }
    }
}
