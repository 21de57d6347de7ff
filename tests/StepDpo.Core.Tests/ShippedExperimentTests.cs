using StepDpo.Core.Manifests;

namespace StepDpo.Core.Tests;

/// <summary>The experiments shipped inside the tool: usable by name in a folder without experiments/, and a
/// workspace's own manifest of the same name wins.</summary>
public class ShippedExperimentTests
{
    [Fact]
    public void Every_manifest_of_the_repository_is_shipped_byte_for_byte()
    {
        var repo = Directory.GetFiles(Path.Combine(Repo.Root, "experiments"), "*.yaml").Select(Path.GetFileName).Order(StringComparer.Ordinal);
        Assert.Equal(repo, ShippedExperiments.Files);
        foreach (var file in ShippedExperiments.Files)
            Assert.Equal(File.ReadAllText(Path.Combine(Repo.Root, "experiments", file)), ShippedExperiments.Read(ShippedExperiments.PathOf(file)));
        Assert.DoesNotContain("_paper", ShippedExperiments.Names);
    }

    [Fact]
    public void An_empty_folder_loads_every_shipped_experiment_as_the_repository_does()
    {
        using var empty = new TempWorkspace();
        Directory.Delete(Path.Combine(empty.Root, "experiments"));
        foreach (var name in ShippedExperiments.Names)
        {
            var shipped = ManifestLoader.Load(name, empty.Workspace);
            var repo = ManifestLoader.Load(name, new Workspace(Repo.Root));
            Assert.Equal(ManifestWriter.ToYaml(repo.Manifest), ManifestWriter.ToYaml(shipped.Manifest));
            Assert.Equal(repo.Files.Select(Path.GetFileName), shipped.Files.Select(ManifestLoader.FileName));
            Assert.All(shipped.Files, f => Assert.StartsWith("shipped:experiments/", f));
        }
    }

    [Fact]
    public void A_local_manifest_wins_and_unknown_names_list_both_kinds()
    {
        using var ws = new TempWorkspace();
        ws.Write("experiments/tiny.yaml", "extends: tiny-ci.yaml\nname: tiny\nseed: 7\n");
        ws.Write("experiments/tiny-ci.yaml", "name: tiny-ci\nmodel: {path: m, template: plain}\n");
        var r = ManifestLoader.Load("tiny", ws.Workspace);
        Assert.Equal(7, r.Manifest.Seed);
        Assert.Equal("m", r.Manifest.Model.Path); // a local manifest extends local files, never shipped ones
        Assert.Equal("shipped:experiments/tiny-rollout.yaml", ManifestLoader.Load("tiny-rollout", ws.Workspace).Path);
        var e = Assert.Throws<ManifestException>(() => ManifestLoader.Load("tiny-rolout", ws.Workspace));
        Assert.EndsWith("and the tool ships none of that name); did you mean 'tiny-rollout'?", e.Message);
    }

    [Fact]
    public void Errors_in_a_shipped_manifest_are_located_in_it()
    {
        using var ws = new TempWorkspace();
        var e = Assert.Throws<ManifestException>(() => ManifestLoader.Load("tiny", ws.Workspace, ["train.max_length=100"]));
        Assert.Equal("shipped:experiments/tiny.yaml:58:22: 'train.max_prompt_length': 192 leaves the completion no tokens: it must be below max_length (100)",
            Assert.Single(e.Problems));
    }
}
