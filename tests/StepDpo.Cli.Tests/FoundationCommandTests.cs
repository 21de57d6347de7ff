using System.Text.Json.Nodes;

namespace StepDpo.Cli.Tests;

public class FoundationCommandTests
{
    [Fact]
    public void Doctor_reports_versions_device_and_bf16()
    {
        var r = Cli.Run(Cli.RepoRoot, "doctor", "--json");
        Assert.Equal(0, r.ExitCode);
        var facts = JsonNode.Parse(r.Stdout)!.AsObject();
        Assert.Equal("0.1.0", facts["stepdpo"]!.GetValue<string>());
        Assert.Equal("0.107.0", facts["TorchSharp"]!.GetValue<string>());
        Assert.StartsWith("2.10", facts["libtorch"]!.GetValue<string>());
        Assert.StartsWith("cpu", facts["device"]!.GetValue<string>());
        // The default build carries TorchSharp-cpu: doctor says that CUDA is unavailable and why, instead of failing.
        Assert.StartsWith("cpu", facts["torch runtime"]!.GetValue<string>());
        Assert.Equal("not available: this build has no CUDA runtime", facts["cuda"]!.GetValue<string>());
        Assert.NotEmpty(facts["cuda driver"]!.GetValue<string>());
        Assert.Contains("max_memory_allocated", facts["not exposed"]!.GetValue<string>());
        Assert.StartsWith("yes", facts["bfloat16"]!.GetValue<string>());
        Assert.Matches(@"^\d+ \(of \d+ cores\)$", facts["threads"]!.GetValue<string>());
    }

    [Fact]
    public void Libtorch_threads_sleep_while_they_wait_unless_the_user_chose_a_policy()
    {
        // Spinning OpenMP threads made a run 4-19x slower on a busy machine; the tool sets PASSIVE before libtorch loads.
        var unset = Cli.RunWith(new Dictionary<string, string?> { ["OMP_WAIT_POLICY"] = null }, Cli.RepoRoot, "doctor", "--json");
        Assert.Equal("PASSIVE", JsonNode.Parse(unset.Stdout)!["openmp wait policy"]!.GetValue<string>());
        var chosen = Cli.RunWith(new Dictionary<string, string?> { ["OMP_WAIT_POLICY"] = "ACTIVE" }, Cli.RepoRoot, "doctor", "--json");
        Assert.Equal("ACTIVE", JsonNode.Parse(chosen.Stdout)!["openmp wait policy"]!.GetValue<string>());
    }

    [Fact]
    public void A_bad_manifest_gives_located_one_line_errors_and_exit_2_without_a_stack_trace()
    {
        string ws = Cli.TempWorkspace();
        File.WriteAllText(Path.Combine(ws, "experiments", "bad.yaml"), "extends: tiny.yaml\nname: bad\ntrain:\n  learning_rat: 1\n");
        var r = Cli.Run(ws, "manifest", "validate", "--experiment", "bad");
        Assert.Equal(2, r.ExitCode);
        Assert.Equal("error: experiments/bad.yaml:4:3: unknown key 'train.learning_rat'; did you mean 'learning_rate'?", r.Stderr.Trim());
        Assert.DoesNotContain("   at ", r.Stderr);
    }

    [Fact]
    public void Manifest_show_prints_the_resolved_manifest_with_overrides()
    {
        var r = Cli.Run(Cli.RepoRoot, "manifest", "show", "--experiment", "qwen2-72b", "--set", "train.beta=0.3", "--json");
        Assert.Equal(0, r.ExitCode);
        var m = JsonNode.Parse(r.Stdout)!;
        Assert.Equal(0.3, m["train"]!["beta"]!.GetValue<double>());
        Assert.Equal("Qwen/Qwen2-72B-Instruct", m["model"]!["path"]!.GetValue<string>());
        Assert.Equal(0.708, m["expect"]!["trained.math.accuracy"]!["value"]!.GetValue<double>());
    }

    [Fact]
    public void Plan_json_lists_every_stage_with_key_status_and_dir()
    {
        string ws = Cli.TempWorkspace();
        var r = Cli.Run(ws, "plan", "--experiment", "qwen2-72b", "--json");
        Assert.Equal(0, r.ExitCode);
        var plan = JsonNode.Parse(r.Stdout.Replace(ws, "<workspace>"))!;
        Assert.Equal("qwen2-72b", plan["experiment"]!.GetValue<string>());
        var names = plan["stages"]!.AsArray().Select(s => s!["name"]!.GetValue<string>());
        Assert.Equal(new[] { "sft", "sample", "verify", "pairs", "train", "evaluate", "report" }, names);
        // keys depend only on the manifest: a structural snapshot of the whole plan (implemented flags excluded,
        // they change as stages land; readiness depends on this machine's files and PATH: PaperRunReadinessTests)
        Snapshooter.Xunit.Snapshot.Match(Newtonsoft.Json.Linq.JObject.Parse(plan.ToJsonString()),
            o => o.ExcludeField("stages[*].implemented").ExcludeField("stages[*].readiness"));
    }

    [Fact]
    public void Unknown_experiment_and_unknown_stage_are_clear_errors()
    {
        string ws = Cli.TempWorkspace();
        var r = Cli.Run(ws, "plan", "--experiment", "qwen2-27b");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("did you mean 'qwen2-72b'?", r.Stderr);
        r = Cli.Run(ws, "run", "--experiment", "tiny", "--until", "trian");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("unknown stage 'trian'; did you mean 'train'?", r.Stderr);
    }
}
