namespace StepDpo.Data;

/// <summary>Finds the machine's shared copy of the public benchmarks. The one rule: the
/// STEPDPO_SHARED_DATA environment variable if set, else the first "shared/data" folder found
/// walking up from the current directory (the repo and its worktrees sit next to "shared").</summary>
public static class SharedData
{
    public static string? Find(string? startDirectory = null)
    {
        var env = Environment.GetEnvironmentVariable("STEPDPO_SHARED_DATA");
        if (!string.IsNullOrEmpty(env)) return Directory.Exists(env) ? env : null;
        for (var dir = new DirectoryInfo(startDirectory ?? Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared", "data");
            if (Directory.Exists(candidate)) return candidate;
        }
        return null;
    }

    /// <summary>The shared file for a named benchmark (gsm8k, math500, qwen25:&lt;set&gt;), or null
    /// when the name has no shared copy or the shared folder is absent.</summary>
    public static string? PathFor(string source, string? startDirectory = null)
    {
        var root = Find(startDirectory);
        if (root is null) return null;
        string? relative = ProblemSources.All.All.FirstOrDefault(s => s.Name == source)?.SharedFile;
        if (relative is null) return null;
        var full = Path.Combine(root, relative);
        return File.Exists(full) ? full : null;
    }
}
