namespace StepDpo.Cli.Tests;

/// <summary>The tool in a folder that is not the repository: shipped experiments by name, and `init` for a workspace
/// to edit.</summary>
public class InitCommandTests
{
    static string EmptyFolder()
    {
        string dir = Path.Combine(Path.GetTempPath(), "stepdpo-cli-empty", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    [Fact]
    public void An_empty_folder_plans_a_shipped_experiment()
    {
        string dir = EmptyFolder();
        var r = Cli.Run(dir, "plan", "--experiment", "tiny", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("\"experiment\": \"tiny\"", r.Stdout);
        Assert.Contains($"{dir}/artifacts/store/sft/", r.Stdout);
        var validate = Cli.Run(dir, "manifest", "validate", "--experiment", "qwen2-72b");
        Assert.Contains("ok qwen2-72b: shipped:experiments/qwen2-72b.yaml <- shipped:experiments/_paper.yaml", validate.Stdout);
        Assert.Empty(Directory.GetFileSystemEntries(dir)); // planning writes nothing
    }

    [Fact]
    public void Init_copies_the_manifest_with_its_bases_and_never_overwrites()
    {
        string dir = EmptyFolder();
        var r = Cli.Run(dir, "init", "mine", "--from", "tiny-ci");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(File.ReadAllText(Path.Combine(Cli.RepoRoot, "experiments", "tiny-ci.yaml")), File.ReadAllText(Path.Combine(dir, "mine", "experiments", "tiny-ci.yaml")));
        Assert.Equal(File.ReadAllText(Path.Combine(Cli.RepoRoot, "experiments", "tiny.yaml")), File.ReadAllText(Path.Combine(dir, "mine", "experiments", "tiny.yaml")));
        Assert.Contains("cd mine", r.Stdout);
        Assert.Contains("stepdpo run --experiment tiny-ci", r.Stdout);

        var local = Cli.Run(Path.Combine(dir, "mine"), "manifest", "validate", "--experiment", "tiny-ci");
        Assert.Contains("ok tiny-ci: experiments/tiny-ci.yaml <- experiments/tiny.yaml", local.Stdout);

        var again = Cli.Run(dir, "init", "mine", "--from", "tiny");
        Assert.Equal(2, again.ExitCode);
        Assert.Equal("error: mine/experiments/tiny.yaml exists; init writes only new files (choose another folder)\n", again.Stderr);
        var unknown = Cli.Run(dir, "init", "other", "--from", "tiny-rolout");
        Assert.Contains("did you mean 'tiny-rollout'?", unknown.Stderr);
        Assert.False(Directory.Exists(Path.Combine(dir, "other")));
    }
}
