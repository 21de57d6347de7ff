namespace StepDpo.Cli.Tests;

/// <summary>Every command's --help renders: option descriptions are console markup, so a stray "[...]" in one of
/// them used to crash the help page instead of showing it.</summary>
public class HelpTests
{
    public static TheoryData<string> Commands => new()
    {
        "doctor", "manifest validate", "manifest show", "plan", "run", "sft", "sample", "verify", "pairs", "train", "eval",
        "report", "check", "tokenize", "model init", "logprobs", "generate", "grade", "data show", "data stats", "synthetic",
    };

    [Theory]
    [MemberData(nameof(Commands))]
    public void Help_renders(string command)
    {
        var r = Cli.Run(Cli.RepoRoot, [.. command.Split(' '), "--help"]);
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        Assert.Contains("USAGE", r.Stdout);
        Assert.DoesNotContain("error", r.Stderr, StringComparison.OrdinalIgnoreCase);
    }
}
