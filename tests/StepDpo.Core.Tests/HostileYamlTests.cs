using StepDpo.Core.Manifests;

namespace StepDpo.Core.Tests;

/// <summary>Manifests written to hurt: alias bombs, huge files, deep nesting. Each gets a located error, and the
/// parser never builds more than <see cref="YamlTree.MaxNodes"/> nodes on the way.</summary>
public class HostileYamlTests
{
    /// <summary>"Billion laughs": each level is a list of nine aliases of the level before, so ten levels of a
    /// 471-byte file expand to 9^9 (387 million) scalars. Before the bound, `manifest validate` grew past 4.9 GB.</summary>
    static string Bomb()
    {
        var yaml = new System.Text.StringBuilder("name: bomb\nl0: &l0 [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n");
        for (int level = 1; level <= 9; level++)
            yaml.Append($"l{level}: &l{level} [{string.Join(",", Enumerable.Repeat($"*l{level - 1}", 9))}]\n");
        return yaml.ToString();
    }

    /// <summary>The loader's error for <paramref name="yaml"/> as experiments/x.yaml, with the workspace path removed.</summary>
    static string Rejects(string yaml)
    {
        using var ws = new TempWorkspace();
        ws.Write("experiments/x.yaml", yaml);
        // A regression here means exponential memory, not an exception: give up after a minute instead of hanging.
        var load = Task.Run(() => Assert.Throws<ManifestException>(() => ManifestLoader.Load("x", ws.Workspace)));
        Assert.True(load.Wait(TimeSpan.FromMinutes(1)), "the manifest loader did not answer within a minute");
        return load.Result.Message.Replace(ws.Root + "/", "");
    }

    [Fact]
    public void An_alias_bomb_is_stopped_at_the_alias_that_crosses_the_node_bound()
    {
        string bomb = Bomb();
        Assert.True(bomb.Length < 500, $"the bomb is {bomb.Length} bytes");
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<ManifestException>(() => YamlTree.Parse(bomb, "bomb.yaml"));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        // Levels 0-4 hold 10 + 91 + 820 + 7,381 + 66,430 nodes; level 5's first alias of level 4 crosses 100,000.
        Assert.Equal("bomb.yaml:7:10: the document expands to more than 100,000 nodes (aliases of aliases multiply; a manifest needs a few hundred)", e.Message);
        Assert.True(allocated < 200L << 20, $"allocated {allocated:N0} bytes");
        Assert.StartsWith("experiments/x.yaml:7:10: the document expands", Rejects(bomb));
    }

    [Fact]
    public void Aliases_within_the_bound_are_copies()
    {
        var tree = (YMap)YamlTree.Parse("a: &shared {k: 1, list: [1, 2]}\nb: *shared\n", "x.yaml");
        YamlTree.ApplyOverride(tree, "b.k=2");
        Assert.Equal("1", ((YScalar)((YMap)tree.Find("a")!.Value).Find("k")!.Value).Value);
        Assert.Equal("2", ((YScalar)((YMap)tree.Find("b")!.Value).Find("k")!.Value).Value);
        Assert.Equal(2, ((YSeq)((YMap)tree.Find("b")!.Value).Find("list")!.Value).Items.Count);
    }

    [Fact]
    public void An_alias_must_name_an_anchor_defined_before_it()
    {
        Assert.Equal("x.yaml:2:4: alias '*later' names no anchor defined before it",
            Assert.Throws<ManifestException>(() => YamlTree.Parse("a: 1\nb: *later\nc: &later 2\n", "x.yaml")).Message);
        // An anchor cannot contain itself (that would be an infinite tree).
        Assert.Contains("alias '*self' names no anchor defined before it",
            Assert.Throws<ManifestException>(() => YamlTree.Parse("a: &self [1, *self]\n", "x.yaml")).Message);
    }

    [Fact]
    public void Nesting_is_bounded_also_through_aliases()
    {
        // The root mapping is the first level, so the 64th '[' is one too many.
        var deep = "a: " + new string('[', 100_000) + new string(']', 100_000) + "\n";
        Assert.Equal($"x.yaml:1:{3 + YamlTree.MaxDepth}: nested deeper than {YamlTree.MaxDepth} levels",
            Assert.Throws<ManifestException>(() => YamlTree.Parse(deep, "x.yaml")).Message);
        // 40 levels under an anchor, used 40 levels down: each part is legal, together they are 80 deep.
        var forty = new string('[', 40) + new string(']', 40);
        var viaAlias = $"a: &deep {forty}\nb: {new string('[', 40)}*deep{new string(']', 40)}\n";
        Assert.Matches(@"^x\.yaml:2:\d+: nested deeper than 64 levels$",
            Assert.Throws<ManifestException>(() => YamlTree.Parse(viaAlias, "x.yaml")).Message);
    }

    [Fact]
    public void A_file_over_one_mebibyte_is_refused_unread()
    {
        Assert.Equal("experiments/x.yaml: 1,048,588 bytes; a manifest may have at most 1 MiB (1,048,576 bytes)",
            Rejects("name: big\n#" + new string('x', YamlTree.MaxDocumentBytes) + "\n"));
    }

    [Fact]
    public void A_second_document_and_complex_keys_are_located()
    {
        Assert.Equal("x.yaml:2:1: expected one YAML document, found more",
            Assert.Throws<ManifestException>(() => YamlTree.Parse("a: 1\n---\nb: 2\n", "x.yaml")).Message);
        Assert.Equal("x.yaml:1:3: mapping keys must be plain names",
            Assert.Throws<ManifestException>(() => YamlTree.Parse("? [1, 2]\n: 3\n", "x.yaml")).Message);
        Assert.Equal("x.yaml:2:1: duplicate key 'a'",
            Assert.Throws<ManifestException>(() => YamlTree.Parse("a: 1\na: 2\n", "x.yaml")).Message);
    }
}
