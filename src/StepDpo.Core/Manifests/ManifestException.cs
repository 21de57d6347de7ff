namespace StepDpo.Core.Manifests;

/// <summary>One or more located problems in a manifest; the message lists each as file:line:column: text.</summary>
public sealed class ManifestException : StepDpoException
{
    public IReadOnlyList<string> Problems { get; }

    public ManifestException(string problem) : base(problem) => Problems = new[] { problem };

    public ManifestException(IReadOnlyList<string> problems)
        : base(problems.Count == 1 ? problems[0] : $"{problems.Count} problems in the manifest:\n  " + string.Join("\n  ", problems))
        => Problems = problems;
}
