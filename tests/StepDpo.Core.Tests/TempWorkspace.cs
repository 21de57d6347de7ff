
namespace StepDpo.Core.Tests;

/// <summary>A throwaway workspace folder (experiments/ + artifacts/) per test.</summary>
public sealed class TempWorkspace : IDisposable
{
    public string Root { get; } = Path.Combine(Path.GetTempPath(), "stepdpo-tests", Guid.NewGuid().ToString("N"));
    public Workspace Workspace { get; }

    public TempWorkspace()
    {
        Directory.CreateDirectory(Path.Combine(Root, "experiments"));
        Workspace = new Workspace(Root, Path.Combine(Root, "artifacts"));
    }

    public string Write(string relative, string text)
    {
        string path = Path.Combine(Root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}

/// <summary>The repository root (for the shipped experiments).</summary>
public static class Repo
{
    public static string Root { get; } = Find();

    static string Find()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "StepDpo.sln"))) return d.FullName;
        throw new InvalidOperationException("repository root not found");
    }
}
