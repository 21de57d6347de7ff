using System.Text.Json.Nodes;

namespace StepDpo.Cli.Tests;

/// <summary>
/// Two experiments on one store, as two real processes started together: `kill` and `kill-hot` (kill sampled hotter)
/// share the sft key, so one process trains the model while the other waits for it and reuses it, and then both sample
/// at once into their own keys. Then `stepdpo gc` on that store once kill-hot's manifest is gone.
/// </summary>
public sealed class SharedStoreTests
{
    [Fact]
    public async Task Two_experiments_run_together_share_what_they_have_in_common_and_gc_removes_what_no_manifest_uses()
    {
        string ws = Cli.TempWorkspace();
        string fixtures = Path.Combine(AppContext.BaseDirectory, "Fixtures");
        File.Copy(Path.Combine(fixtures, "kill.yaml"), Path.Combine(ws, "experiments", "kill.yaml"));
        File.WriteAllText(Path.Combine(ws, "experiments", "kill-hot.yaml"),
            "extends: kill.yaml\nname: kill-hot\nsample:\n  temperature: 1.2\n");

        using (var a = Cli.Start(ws, "sample", "--experiment", "kill", "--log-format", "msbuild"))
        using (var b = Cli.Start(ws, "sample", "--experiment", "kill-hot", "--log-format", "msbuild"))
        {
            var outA = a.StandardOutput.ReadToEndAsync();
            var outB = b.StandardOutput.ReadToEndAsync();
            var errA = a.StandardError.ReadToEndAsync();
            var errB = b.StandardError.ReadToEndAsync();
            await a.WaitForExitAsync();
            await b.WaitForExitAsync();
            Assert.True(a.ExitCode == 0, await outA + await errA);
            Assert.True(b.ExitCode == 0, await outB + await errB);
            string both = await outA + await outB;
            Assert.Single(Lines(both, "stage=sft status=completed"));
            Assert.Single(Lines(both, "stage=sft status=cached"));
            Assert.Contains("another run is writing", both);
            Assert.Equal(2, Lines(both, "stage=sample status=completed").Count);
        }

        string SampleDir(string experiment) => Dir(ws, experiment, "sample");
        Assert.Equal(Dir(ws, "kill", "sft"), Dir(ws, "kill-hot", "sft"));
        Assert.NotEqual(SampleDir("kill"), SampleDir("kill-hot"));
        // each experiment's view points at its own key
        Assert.Equal(File.ReadAllText(Path.Combine(SampleDir("kill-hot"), "samples.jsonl")),
            File.ReadAllText(Path.Combine(ws, "artifacts", "kill-hot", "sample", "samples.jsonl")));
        string hotSample = SampleDir("kill-hot");

        File.Delete(Path.Combine(ws, "experiments", "kill-hot.yaml"));
        var dry = Cli.Run(ws, "gc", "--dry-run");
        Assert.True(dry.ExitCode == 0, dry.Stdout + dry.Stderr);
        string listed = Assert.Single(dry.Stdout.Split('\n'), l => l.Contains("(complete, written by kill-hot)"));
        Assert.Contains(Path.GetFileName(hotSample), listed);
        Assert.Matches(@"^\s*\d+(\.\d)? KiB  sample ", listed);
        Assert.Contains("dry run: nothing removed", dry.Stdout);
        Assert.True(Directory.Exists(hotSample));

        var unconfirmed = Cli.Run(ws, "gc");
        Assert.Equal(2, unconfirmed.ExitCode);
        Assert.Contains("pass --yes", unconfirmed.Stderr);
        Assert.True(Directory.Exists(hotSample));

        var gc = Cli.Run(ws, "gc", "--yes");
        Assert.True(gc.ExitCode == 0, gc.Stdout + gc.Stderr);
        Assert.Contains("removed 1 artifacts", gc.Stdout);
        Assert.False(Directory.Exists(hotSample));
        Assert.False(Path.Exists(Path.Combine(ws, "artifacts", "kill-hot", "sample")));
        Assert.True(Path.Exists(Path.Combine(ws, "artifacts", "kill-hot", "sft")));   // still kill's sft
        var plan = JsonNode.Parse(Cli.Run(ws, "plan", "--experiment", "kill", "--until", "sample", "--json").Stdout)!;
        Assert.All(plan["stages"]!.AsArray(), s => Assert.Equal("cached", s!["status"]!.GetValue<string>()));
        Assert.Contains("nothing to remove", Cli.Run(ws, "gc", "--dry-run").Stdout);
    }

    static List<string> Lines(string output, string text) => output.Split('\n').Where(l => l.Contains(text)).ToList();

    static string Dir(string ws, string experiment, string stage) =>
        JsonNode.Parse(Cli.Run(ws, "plan", "--experiment", experiment, "--until", stage, "--json").Stdout)!["stages"]!.AsArray()
            .First(s => s!["name"]!.GetValue<string>() == stage)!["dir"]!.GetValue<string>();
}
