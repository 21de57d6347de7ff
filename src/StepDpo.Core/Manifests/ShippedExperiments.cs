using System.Reflection;

namespace StepDpo.Core.Manifests;

/// <summary>
/// The repository's experiments/*.yaml, embedded in the tool, so that `stepdpo plan --experiment tiny` works in any
/// folder (the tiny experiments generate their data; the paper runs name hub models and data sets). A workspace's own
/// experiments/NAME.yaml wins over the shipped one; `stepdpo init --from NAME` copies one out to edit.
/// </summary>
public static class ShippedExperiments
{
    /// <summary>How a shipped manifest is named in messages and stage.json, e.g. "shipped:experiments/tiny.yaml".</summary>
    public const string Prefix = "shipped:experiments/";
    const string ResourcePrefix = "StepDpo.Experiments.";
    static readonly Assembly Holder = typeof(ShippedExperiments).Assembly;

    /// <summary>File names of the shipped manifests, bases ("_paper.yaml") included.</summary>
    public static IReadOnlyList<string> Files { get; } = Holder.GetManifestResourceNames()
        .Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal)).Select(n => n[ResourcePrefix.Length..])
        .Order(StringComparer.Ordinal).ToList();

    /// <summary>The shipped experiments (a file starting with '_' is a base to extend, not an experiment).</summary>
    public static IReadOnlyList<string> Names { get; } =
        Files.Where(f => !f.StartsWith('_')).Select(f => Path.GetFileNameWithoutExtension(f)).ToList();

    public static bool IsShipped(string path) => path.StartsWith(Prefix, StringComparison.Ordinal);

    public static string PathOf(string fileName) => Prefix + fileName;

    public static bool Exists(string path) => IsShipped(path) && Files.Contains(path[Prefix.Length..]);

    public static string Read(string path)
    {
        using var stream = Holder.GetManifestResourceStream(ResourcePrefix + path[Prefix.Length..])
            ?? throw new ManifestException($"{path}: no such shipped manifest");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
