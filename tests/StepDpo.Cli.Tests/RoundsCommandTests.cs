using System.Text.Json.Nodes;

namespace StepDpo.Cli.Tests;

/// <summary>A shipped experiment of several rounds through the tool: its round stages are planned, and addressable by
/// name (nothing is trained here: the two real rounds run in StepDpo.Stages.Tests' RoundsTests).</summary>
public class RoundsCommandTests
{
    [Fact]
    public void Plan_lists_every_round_and_takes_a_round_stage_as_the_last()
    {
        string ws = Cli.TempWorkspace();
        var r = Cli.Run(ws, "plan", "--experiment", "tiny-rounds", "--json");
        Assert.Equal(0, r.ExitCode);
        var stages = JsonNode.Parse(r.Stdout)!["stages"]!.AsArray();
        Assert.Equal(["sft", "sample", "verify", "pairs", "train", "evaluate", "sample@2", "verify@2", "pairs@2", "train@2", "evaluate@2",
            "sample@3", "verify@3", "pairs@3", "train@3", "evaluate@3", "report"], stages.Select(s => s!["name"]!.GetValue<string>()));
        Assert.Equal(["train@2", "pairs@3"], stages[14]!["upstream"]!.AsArray().Select(u => u!.GetValue<string>()));

        r = Cli.Run(ws, "plan", "--experiment", "tiny-rounds", "--until", "train@2", "--json");
        Assert.Equal(0, r.ExitCode);
        Assert.Equal("train@2", JsonNode.Parse(r.Stdout)!["stages"]!.AsArray()[^1]!["name"]!.GetValue<string>());

        r = Cli.Run(ws, "run", "--experiment", "tiny-rounds", "--until", "train@4");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("unknown stage 'train@4'", r.Stderr);
        Assert.Contains("pairs@3, train@3, evaluate@3, report)", r.Stderr);
    }
}
