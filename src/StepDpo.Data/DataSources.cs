using StepDpo.Core;
using StepDpo.Data.Hub;

namespace StepDpo.Data;

/// <summary>One entry point for every problem source; all loaders stream (nothing is read before
/// it is enumerated) and report bad records by file and line.</summary>
public static class DataSources
{
    public static IEnumerable<Problem> Load(DataSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (spec.Limit is < 0) throw new StepDpoException($"data limit must be >= 0, got {spec.Limit}");
        var source = ProblemSources.All[spec.Source];
        var problems = source.Load(ResolvePath(spec), spec.Fields);
        return spec.Limit is { } limit ? problems.Take(limit) : problems;
    }

    public const string HubPrefix = "hf://";

    /// <summary>"hf://owner/name@revision/path/in/repo#sha256" (the #sha256 part optional): the file from
    /// the Hugging Face hub (endpoint $HF_ENDPOINT or huggingface.co), through the Hub cache (HubCache).</summary>
    public static HubFile ParseHubPath(string path)
    {
        var rest = path[HubPrefix.Length..];
        string? sha = null;
        int hash = rest.LastIndexOf('#');
        if (hash >= 0) { sha = rest[(hash + 1)..]; rest = rest[..hash]; }
        int at = rest.IndexOf('@');
        int slash = at < 0 ? -1 : rest.IndexOf('/', at);
        if (at <= 0 || slash < 0 || slash == rest.Length - 1)
            throw new StepDpoException($"hub path must be hf://owner/name@revision/path/in/repo[#sha256], got '{path}'");
        return new HubFile(rest[..at], rest[(at + 1)..slash], rest[(slash + 1)..], sha);
    }

    private static string DownloadFromHub(string path)
    {
        var file = ParseHubPath(path);
        using var client = new HubClient(HubOptions.FromEnvironment());
        return file.GetAsync(new HubCache(HubCache.DefaultRoot()), client).GetAwaiter().GetResult();
    }

    /// <summary>The file or folder to read: the given path, or for a named benchmark with an empty
    /// path, its shared copy.</summary>
    public static string ResolvePath(DataSpec spec)
    {
        if (spec.Path.StartsWith(HubPrefix, StringComparison.Ordinal)) return DownloadFromHub(spec.Path);
        if (!string.IsNullOrWhiteSpace(spec.Path))
        {
            if (!File.Exists(spec.Path) && !Directory.Exists(spec.Path))
                throw new StepDpoException($"{spec.Path}: no such file or folder (data source '{spec.Source}')");
            return spec.Path;
        }
        return SharedData.PathFor(spec.Source)
               ?? throw new StepDpoException($"data source '{spec.Source}' needs a path: no shared copy found "
                                             + "(set STEPDPO_SHARED_DATA or give the file; MATH: download e.g. EleutherAI/hendrycks_math)");
    }
}
