using YamlDotNet.Core;
using YamlDotNet.Core.Events;

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
    /// <summary>A manifest is a few kilobytes; a bigger file is a mistake or an attack, and is refused unread.</summary>
    public const int MaxDocumentBytes = 1 << 20;

    /// <summary>Nodes after expanding aliases. Nested anchors can make a few hundred bytes expand to a billion nodes
    /// (a "billion laughs" document); counting while building stops that at this bound instead of at out-of-memory.</summary>
    public const int MaxNodes = 100_000;

    /// <summary>Nesting depth: the tree is walked recursively later (merge, binding), so depth is bounded here.</summary>
    public const int MaxDepth = 64;

    /// <summary>Parses one YAML document. Syntax errors and the bounds above become <see cref="ManifestException"/>s
    /// with the position.</summary>
    public static YNode Parse(string text, string file)
    {
        if (text.Length > MaxDocumentBytes)
            throw new ManifestException($"{file}: {text.Length:N0} characters; a manifest may have at most 1 MiB");
        try
        {
            return new TreeBuilder(file).Build(new Parser(new StringReader(text)));
        }
        catch (YamlException e)
        {
            throw new ManifestException($"{file}:{e.Start.Line}:{e.Start.Column}: invalid YAML: {Innermost(e).Message}");
        }
    }

    static Exception Innermost(Exception e) => e.InnerException is null ? e : Innermost(e.InnerException);

    /// <summary>Builds the tree from parser events with an explicit stack (no recursion on the input's depth),
    /// copying each alias's anchored node and counting every node it adds.</summary>
    sealed class TreeBuilder(string file)
    {
        readonly Dictionary<string, Built> anchors = new();
        readonly Stack<Open> open = new();
        int nodes;
        int documents;
        YNode? root;

        /// <summary>A finished node with its node count and height (1 for a scalar).</summary>
        readonly record struct Built(YNode Node, int Size, int Height);

        /// <summary>A sequence or mapping being read: the key awaiting a value, its size and height so far.</summary>
        sealed class Open(YNode node, string? anchor)
        {
            public YNode Node { get; } = node;
            public string? Anchor { get; } = anchor;
            public YScalar? Key { get; set; }
            public int Size { get; set; } = 1;
            public int Height { get; set; } = 1;
        }

        public YNode Build(IParser parser)
        {
            while (parser.MoveNext())
            {
                var e = parser.Current!;
                var src = new Source(file, (int)e.Start.Line, (int)e.Start.Column);
                switch (e)
                {
                    case DocumentStart:
                        if (++documents > 1) throw new ManifestException($"{src}: expected one YAML document, found more");
                        break;
                    case Scalar s:
                        Count(1, src);
                        var scalar = new YScalar(s.Value, s.Style is ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted
                            or ScalarStyle.Literal or ScalarStyle.Folded, src);
                        Complete(new Built(scalar, 1, 1), s.Anchor, src);
                        break;
                    case AnchorAlias a:
                        if (!anchors.TryGetValue(a.Value.Value, out var anchored))
                            throw new ManifestException($"{src}: alias '*{a.Value.Value}' names no anchor defined before it");
                        Count(anchored.Size, src);
                        Complete(anchored with { Node = Copy(anchored.Node) }, AnchorName.Empty, src);
                        break;
                    case SequenceStart q:
                        Push(new YSeq(new List<YNode>(), src), q.Anchor, src);
                        break;
                    case MappingStart m:
                        Push(new YMap(src), m.Anchor, src);
                        break;
                    case SequenceEnd or MappingEnd:
                        var done = open.Pop();
                        Complete(new Built(done.Node, done.Size, done.Height), done.Anchor is null ? AnchorName.Empty : new AnchorName(done.Anchor), src);
                        break;
                }
            }
            return root ?? new YMap(new Source(file, 1, 1));
        }

        void Push(YNode node, AnchorName anchor, Source src)
        {
            if (open.Count + 1 > MaxDepth) throw new ManifestException($"{src}: nested deeper than {MaxDepth} levels");
            Count(1, src);
            open.Push(new Open(node, anchor.IsEmpty ? null : anchor.Value));
        }

        void Count(int added, Source src)
        {
            nodes += added;
            if (nodes > MaxNodes)
                throw new ManifestException($"{src}: the document expands to more than {MaxNodes:N0} nodes " +
                    "(aliases of aliases multiply; a manifest needs a few hundred)");
        }

        /// <summary>A finished node goes into its parent (as a key, a value or an item) or becomes the root.</summary>
        void Complete(Built built, AnchorName anchor, Source src)
        {
            // A collection that is still open counts as one level, so an alias cannot hide depth either.
            if (open.Count + built.Height > MaxDepth) throw new ManifestException($"{src}: nested deeper than {MaxDepth} levels");
            var node = built.Node;
            if (!anchor.IsEmpty) anchors[anchor.Value] = built;
            if (open.Count == 0) { root = node; return; }
            var parent = open.Peek();
            parent.Size += built.Size;
            parent.Height = Math.Max(parent.Height, built.Height + 1);
            if (parent.Node is YSeq seq) { seq.Items.Add(node); return; }
            var map = (YMap)parent.Node;
            if (parent.Key is null)
            {
                if (node is not YScalar { Value: not null } key) throw new ManifestException($"{node.Source}: mapping keys must be plain names");
                if (map.Find(key.Value) is not null) throw new ManifestException($"{key.Source}: duplicate key '{key.Value}'");
                parent.Key = key;
                return;
            }
            map.Entries.Add(new YEntry(parent.Key.Value!, parent.Key.Source, node));
            parent.Key = null;
        }

        /// <summary>Each use of an alias gets its own copy: `--set` edits maps in place, and must edit only one.</summary>
        static YNode Copy(YNode node) => node switch
        {
            YSeq q => new YSeq(q.Items.Select(Copy).ToList(), q.Source),
            YMap m => CopyMap(m),
            _ => node,
        };

        static YMap CopyMap(YMap m)
        {
            var copy = new YMap(m.Source);
            foreach (var e in m.Entries) copy.Entries.Add(e with { Value = Copy(e.Value) });
            return copy;
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
