using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace StepDpo.Core.Artifacts;

/// <summary>
/// SHA-256 of files and folders that stages read. Hashing a 140 GB checkpoint on every `plan` would be slow, so
/// hashes are remembered in a small cache keyed by (path, size, modification time): a file that changes gets a
/// new size or time and is hashed again.
/// </summary>
public sealed class ContentHasher
{
    readonly string? cachePath;
    readonly Dictionary<string, CacheEntry> cache = new();
    bool dirty;

    sealed record CacheEntry(long Size, long MtimeTicks, string Sha256);

    public ContentHasher(string? cachePath = null)
    {
        this.cachePath = cachePath;
        if (cachePath is not null && File.Exists(cachePath))
        {
            try { cache = JsonSerializer.Deserialize<Dictionary<string, CacheEntry>>(File.ReadAllText(cachePath)) ?? new(); }
            catch (JsonException) { cache = new(); } // a corrupt cache only costs re-hashing
        }
    }

    /// <summary>"sha256:..." of a file, or of a folder's sorted (relative path, file hash) list. "missing" if absent.</summary>
    public string Hash(string path)
    {
        path = Path.GetFullPath(path);
        if (File.Exists(path)) return "sha256:" + HashFile(path);
        if (Directory.Exists(path))
        {
            var sb = new StringBuilder();
            foreach (var f in Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
                sb.Append(Path.GetRelativePath(path, f).Replace('\\', '/')).Append('\t').Append(HashFile(f)).Append('\n');
            return "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sb.ToString())));
        }
        return "missing";
    }

    string HashFile(string file)
    {
        var info = new FileInfo(file);
        lock (cache)
        {
            if (cache.TryGetValue(file, out var e) && e.Size == info.Length && e.MtimeTicks == info.LastWriteTimeUtc.Ticks)
                return e.Sha256;
        }
        string hash;
        using (var s = File.OpenRead(file)) hash = Convert.ToHexStringLower(SHA256.HashData(s));
        lock (cache)
        {
            cache[file] = new CacheEntry(info.Length, info.LastWriteTimeUtc.Ticks, hash);
            dirty = true;
        }
        return hash;
    }

    public void Save()
    {
        if (cachePath is null || !dirty) return;
        lock (cache) AtomicFile.WriteAllText(cachePath, JsonSerializer.Serialize(cache));
        dirty = false;
    }

    public static string HashText(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
}
