namespace StepDpo.Core;

/// <summary>
/// The folder that holds experiments/ (the repo, or any folder a user sets up). Artifacts go to
/// WORKSPACE/artifacts unless STEPDPO_ARTIFACTS says otherwise.
/// </summary>
public sealed class Workspace
{
    public string Root { get; }
    public string ExperimentsDir => Path.Combine(Root, "experiments");
    public string ArtifactsDir { get; }

    public Workspace(string root, string? artifactsDir = null)
    {
        Root = Path.GetFullPath(root);
        ArtifactsDir = Path.GetFullPath(artifactsDir ?? Environment.GetEnvironmentVariable("STEPDPO_ARTIFACTS") ?? Path.Combine(Root, "artifacts"));
    }

    /// <summary>Walks up from <paramref name="start"/> to the first folder with an experiments/ subfolder.</summary>
    public static Workspace Discover(string? start = null)
    {
        var dir = new DirectoryInfo(Path.GetFullPath(start ?? Environment.CurrentDirectory));
        for (var d = dir; d is not null; d = d.Parent)
            if (Directory.Exists(Path.Combine(d.FullName, "experiments"))) return new Workspace(d.FullName);
        return new Workspace(dir.FullName);
    }

    public IReadOnlyList<string> ExperimentNames() => Directory.Exists(ExperimentsDir)
        ? Directory.GetFiles(ExperimentsDir, "*.yaml").Select(f => Path.GetFileNameWithoutExtension(f)!).Where(n => !n.StartsWith('_')).Order().ToList()
        : Array.Empty<string>();

    /// <summary>Paths relative to the current folder when inside it, so messages stay short and clickable.</summary>
    public static string Display(string path)
    {
        string rel = Path.GetRelativePath(Environment.CurrentDirectory, path);
        return rel.StartsWith("..") ? path : rel;
    }
}
