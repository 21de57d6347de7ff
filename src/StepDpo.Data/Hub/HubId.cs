using System.Text.RegularExpressions;

namespace StepDpo.Data.Hub;

public enum HubRepoType { Model, Dataset }

/// <summary>A Hugging Face Hub repository at a revision (a branch, a tag or a commit): "owner/name", optionally
/// "owner/name@revision" (the revision defaults to main).</summary>
public sealed partial record HubId(string Repo, string Revision, HubRepoType Type)
{
    /// <summary>api/ and cache-folder word for the type ("models", "datasets").</summary>
    public string TypePlural => Type == HubRepoType.Model ? "models" : "datasets";

    /// <summary>Whether <see cref="Revision"/> already names a commit (40 hex digits), which never moves.</summary>
    public bool IsPinned => IsCommit(Revision);

    public static bool IsCommit(string revision) => CommitPattern().IsMatch(revision);

    /// <summary>Reads "owner/name[@revision]"; null when <paramref name="text"/> is not of that form (a local path,
    /// "./x", "/abs", "a/b/c" are never hub ids). <paramref name="revision"/> applies when the text names none.</summary>
    public static HubId? TryParse(string? text, HubRepoType type, string? revision = null)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        var m = IdPattern().Match(text);
        if (!m.Success) return null;
        string rev = m.Groups["rev"].Success ? m.Groups["rev"].Value : revision ?? "main";
        return new HubId(m.Groups["repo"].Value, rev, type);
    }

    public override string ToString() => $"{Repo}@{Revision}";

    [GeneratedRegex(@"^(?<repo>[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*)(@(?<rev>[A-Za-z0-9][A-Za-z0-9._/-]*))?$")]
    private static partial Regex IdPattern();

    [GeneratedRegex("^[0-9a-f]{40}$")]
    private static partial Regex CommitPattern();
}
