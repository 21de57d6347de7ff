using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace StepDpo.Core.Manifests;

/// <summary>Where a value came from: a manifest file position, or a --set override.</summary>
public sealed record Source(string File, int Line, int Column)
{
    public override string ToString() => Line > 0 ? $"{File}:{Line}:{Column}" : File;
}

/// <summary>
/// A YAML tree that remembers the file and position of every node, so that errors found after
/// `extends` merging and `--set` overrides still point at the line the user wrote.
/// </summary>
public abstract class YNode(Source source)
{
    public Source Source { get; } = source;
}

public sealed class YScalar(string? value, bool quoted, Source source) : YNode(source)
{
    public string? Value { get; } = value;
    /// <summary>Quoted scalars are always strings ("true" is not a bool).</summary>
    public bool Quoted { get; } = quoted;
    public bool IsNull => !Quoted && (Value is null || Value is "" or "~" or "null" or "Null" or "NULL");
}

public sealed class YSeq(List<YNode> items, Source source) : YNode(source)
{
    public List<YNode> Items { get; } = items;
}

public sealed class YMap(Source source) : YNode(source)
{
    public List<YEntry> Entries { get; } = new();

    public YEntry? Find(string key) => Entries.FirstOrDefault(e => e.Key == key);

    public void Set(string key, Source keySource, YNode value)
    {
        int i = Entries.FindIndex(e => e.Key == key);
        if (i >= 0) Entries[i] = new YEntry(key, keySource, value);
        else Entries.Add(new YEntry(key, keySource, value));
    }

    public void Remove(string key) => Entries.RemoveAll(e => e.Key == key);
}

public sealed record YEntry(string Key, Source KeySource, YNode Value);

public static class YamlTree
{
    /// <summary>Parses one YAML document. Syntax errors become <see cref="ManifestException"/> with the position.</summary>
    public static YNode Parse(string text, string file)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            throw new ManifestException($"{file}:{e.Start.Line}:{e.Start.Column}: invalid YAML: {Innermost(e).Message}");
        }
        if (stream.Documents.Count == 0) return new YMap(new Source(file, 1, 1));
        if (stream.Documents.Count > 1) throw new ManifestException($"{file}: expected one YAML document, found {stream.Documents.Count}");
        return Convert(stream.Documents[0].RootNode, file);
    }

    static Exception Innermost(Exception e) => e.InnerException is null ? e : Innermost(e.InnerException);

    static YNode Convert(YamlNode node, string file)
    {
        var src = new Source(file, (int)node.Start.Line, (int)node.Start.Column);
        switch (node)
        {
            case YamlScalarNode s:
                return new YScalar(s.Value, s.Style is ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted
                    or ScalarStyle.Literal or ScalarStyle.Folded, src);
            case YamlSequenceNode q:
                return new YSeq(q.Children.Select(c => Convert(c, file)).ToList(), src);
            case YamlMappingNode m:
                var map = new YMap(src);
                foreach (var (k, v) in m.Children)
                {
                    var keySrc = new Source(file, (int)k.Start.Line, (int)k.Start.Column);
                    if (k is not YamlScalarNode ks || ks.Value is null)
                        throw new ManifestException($"{keySrc}: mapping keys must be plain names");
                    if (map.Find(ks.Value) is not null)
                        throw new ManifestException($"{keySrc}: duplicate key '{ks.Value}'");
                    map.Entries.Add(new YEntry(ks.Value, keySrc, Convert(v, file)));
                }
                return map;
            default:
                throw new ManifestException($"{src}: unsupported YAML node (anchors and tags are not supported)");
        }
    }

    /// <summary>Deep merge: maps merge key by key, everything else in <paramref name="overlay"/> replaces the base.</summary>
    public static YNode Merge(YNode baseNode, YNode overlay)
    {
        if (baseNode is not YMap b || overlay is not YMap o) return overlay;
        var merged = new YMap(o.Source);
        foreach (var e in b.Entries) merged.Entries.Add(e);
        foreach (var e in o.Entries)
        {
            var existing = merged.Find(e.Key);
            merged.Set(e.Key, e.KeySource, existing is null ? e.Value : Merge(existing.Value, e.Value));
        }
        return merged;
    }

    /// <summary>Applies `a.b.c=value` (value parsed as YAML, so numbers, booleans and [lists] work).</summary>
    public static YNode ApplyOverride(YNode root, string assignment)
    {
        int eq = assignment.IndexOf('=');
        if (eq <= 0) throw new ManifestException($"--set {assignment}: expected KEY=VALUE, e.g. --set train.beta=0.3");
        string path = assignment[..eq].Trim();
        var src = new Source($"--set {assignment}", 0, 0);
        YNode value = Parse(assignment[(eq + 1)..], src.File) switch
        {
            YScalar s => new YScalar(s.Value, s.Quoted, src),
            YMap m when m.Entries.Count == 0 && assignment[(eq + 1)..].Trim() == "" => new YScalar(null, false, src),
            var other => Relocate(other, src),
        };
        if (root is not YMap rootMap) throw new ManifestException($"{root.Source}: the manifest must be a mapping");
        var keys = path.Split('.');
        var map = rootMap;
        for (int i = 0; i < keys.Length - 1; i++)
        {
            var next = map.Find(keys[i]);
            if (next?.Value is YMap child) { map = child; continue; }
            var created = new YMap(src);
            map.Set(keys[i], src, created);
            map = created;
        }
        map.Set(keys[^1], src, value);
        return root;
    }

    static YNode Relocate(YNode node, Source src) => node switch
    {
        YScalar s => new YScalar(s.Value, s.Quoted, src),
        YSeq q => new YSeq(q.Items.Select(i => Relocate(i, src)).ToList(), src),
        YMap m => RelocateMap(m, src),
        _ => node,
    };

    static YMap RelocateMap(YMap m, Source src)
    {
        var r = new YMap(src);
        foreach (var e in m.Entries) r.Entries.Add(new YEntry(e.Key, src, Relocate(e.Value, src)));
        return r;
    }
}
