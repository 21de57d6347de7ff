namespace StepDpo.Core.Manifests;

/// <summary>A manifest after `extends` and overrides, with the files it was read from.</summary>
public sealed record ResolvedManifest(Manifest Manifest, string Path, IReadOnlyList<string> Files, IReadOnlyList<string> Overrides);

/// <summary>Finds, reads, merges and binds experiment manifests.</summary>
public static class ManifestLoader
{
    /// <summary>`NAME` resolves to experiments/NAME.yaml in the workspace, else to the manifest of that name shipped with
    /// the tool; anything with a slash or .yaml is a path.</summary>
    public static string ResolvePath(string experiment, Workspace workspace)
    {
        bool isPath = experiment.Contains('/') || experiment.Contains('\\') || experiment.EndsWith(".yaml") || experiment.EndsWith(".yml");
        string path = isPath ? System.IO.Path.GetFullPath(experiment) : System.IO.Path.Combine(workspace.ExperimentsDir, experiment + ".yaml");
        if (File.Exists(path)) return path;
        if (isPath) throw new ManifestException($"{path}: manifest not found");
        string shipped = ShippedExperiments.PathOf(experiment + ".yaml");
        if (ShippedExperiments.Exists(shipped)) return shipped;
        var known = KnownExperiments(workspace);
        var hint = ManifestBinder.Suggest(experiment, known);
        throw new ManifestException($"unknown experiment '{experiment}' (no {Workspace.Display(path)}, and the tool ships none of that name)" +
            (hint is not null ? $"; did you mean '{hint}'?" : known.Count > 0 ? $"; available: {string.Join(", ", known)}" : ""));
    }

    /// <summary>The workspace's experiments and the shipped ones, by name.</summary>
    public static IReadOnlyList<string> KnownExperiments(Workspace workspace) =>
        workspace.ExperimentNames().Union(ShippedExperiments.Names).Order(StringComparer.Ordinal).ToList();

    public static ResolvedManifest Load(string experiment, Workspace workspace, IEnumerable<string>? overrides = null)
    {
        string path = ResolvePath(experiment, workspace);
        var files = new List<string>();
        var tree = LoadWithExtends(path, files, new Stack<string>());
        var sets = (overrides ?? Array.Empty<string>()).ToList();
        foreach (var set in sets) tree = YamlTree.ApplyOverride(tree, set);
        if (tree is YMap map) map.Remove("extends");
        var manifest = ManifestBinder.Bind<Manifest>(tree, m => FilesExist(m, workspace));
        manifest.Extends = null;
        foreach (var endpoint in new[] { manifest.Sample.Endpoint, manifest.Verify.Judge, manifest.Evaluate.Endpoint })
            Secrets.Register(endpoint.ApiKeyEnv);
        return new ResolvedManifest(manifest, path, files, sets);
    }

    /// <summary>Rules that need the workspace: the files a manifest names exist, the experiment it compares with too.
    /// Paths are relative to the workspace root, as the stages read them.</summary>
    static IEnumerable<Violation> FilesExist(Manifest m, Workspace ws)
    {
        string Resolve(string p) => System.IO.Path.IsPathRooted(p) ? p : System.IO.Path.Combine(ws.Root, p);
        if (m.Model.Tokenizer is { } tokenizer && !File.Exists(Resolve(tokenizer)))
            yield return new($"no such file: {Resolve(tokenizer)}", "model.tokenizer");
        if (m.Model.Init is { Tokenizer: not "byte" and var path } && !File.Exists(Resolve(path)) && !Directory.Exists(Resolve(path)))
            yield return new($"neither 'byte' nor an existing tokenizer.json: {Resolve(path)}", "model.init.tokenizer");
        if (m.Report.CompareWith is { } other && other != m.Name && !Exists(other, ws))
            yield return new($"no experiment '{other}'" +
                (ManifestBinder.Suggest(other, KnownExperiments(ws)) is { } hint ? $"; did you mean '{hint}'?" : ""), "report.compare_with");
    }

    static bool Exists(string experiment, Workspace ws)
    {
        try { ResolvePath(experiment, ws); return true; }
        catch (ManifestException) { return false; }
    }

    static YNode LoadWithExtends(string path, List<string> files, Stack<string> chain)
    {
        if (chain.Contains(path))
            throw new ManifestException($"{path}: 'extends' forms a cycle: {string.Join(" -> ", chain.Reverse().Append(path))}");
        chain.Push(path);
        files.Add(path);
        string display = Workspace.Display(path);
        var node = YamlTree.Parse(ReadText(path, display), display);
        if (node is not YMap map) throw new ManifestException($"{node.Source}: a manifest must be a mapping of keys");
        if (map.Find("extends") is { } ext)
        {
            if (ext.Value is not YScalar { Value: { } baseName } || ext.Value is YScalar { IsNull: true })
                throw new ManifestException($"{ext.KeySource}: 'extends' must be a file name, e.g. extends: base.yaml");
            string basePath = Sibling(path, baseName.EndsWith(".yaml") || baseName.EndsWith(".yml") ? baseName : baseName + ".yaml");
            if (!(ShippedExperiments.IsShipped(basePath) ? ShippedExperiments.Exists(basePath) : File.Exists(basePath)))
                throw new ManifestException($"{ext.Value.Source}: 'extends' names {baseName}, which does not exist ({basePath})");
            var baseTree = LoadWithExtends(basePath, files, chain);
            map.Remove("extends");
            node = YamlTree.Merge(baseTree, map);
        }
        chain.Pop();
        return node;
    }

    /// <summary>A base named by `extends`: next to the manifest (a shipped manifest extends shipped ones only).</summary>
    static string Sibling(string path, string fileName) => ShippedExperiments.IsShipped(path)
        ? ShippedExperiments.PathOf(fileName)
        : System.IO.Path.GetFullPath(System.IO.Path.Combine(System.IO.Path.GetDirectoryName(path)!, fileName));

    /// <summary>The text of a manifest file, on disk or shipped (a path from <see cref="ResolvedManifest.Files"/>).</summary>
    public static string ReadText(string path) => ReadText(path, Workspace.Display(path));

    /// <summary>The file name a manifest path ends with ("tiny.yaml"), shipped or not.</summary>
    public static string FileName(string path) => System.IO.Path.GetFileName(path);

    static string ReadText(string path, string display)
    {
        if (ShippedExperiments.IsShipped(path)) return ShippedExperiments.Read(path);
        long size = new FileInfo(path).Length;
        if (size > YamlTree.MaxDocumentBytes)
            throw new ManifestException($"{display}: {size:N0} bytes; a manifest may have at most 1 MiB ({YamlTree.MaxDocumentBytes:N0} bytes)");
        return File.ReadAllText(path);
    }
}
