using System.Text.Json.Nodes;
using StepDpo.Core.Graph;
using StepDpo.Core.Manifests;

namespace StepDpo.Core.Tests;

/// <summary>Cache behaviour of the stage graph, with small real stages that write and read files.</summary>
public class StageGraphTests
{
    /// <summary>a -> b -> c. Each writes out.txt from its config and its upstream's output; Runs counts executions.</summary>
    sealed class FileStage(string name, string? upstream, Func<Manifest, object> config, Func<StageContext, Task>? body = null) : Stage
    {
        public int Runs;
        public override string Name => name;
        public override int Version => 1;
        public override IReadOnlyList<string> DependsOn(Manifest m) => upstream is null ? Array.Empty<string>() : new[] { upstream };
        public override object KeyConfig(Manifest m) => config(m);
        public Func<Manifest, IEnumerable<string>> Inputs { get; set; } = _ => Array.Empty<string>();
        public override IEnumerable<string> ExternalInputs(Manifest m, Workspace ws) => Inputs(m);
        public Func<Manifest, string?> Disabled { get; set; } = _ => null;
        public override string? DisabledReason(Manifest m) => Disabled(m);

        public override async Task RunAsync(StageContext ctx, CancellationToken ct)
        {
            Runs++;
            string before = upstream is null || !ctx.UpstreamDirs.ContainsKey(upstream) ? "" : File.ReadAllText(Path.Combine(ctx.Upstream(upstream), "out.txt"));
            if (body is not null) await body(ctx);
            File.WriteAllText(ctx.File("out.txt"), before + $"{name}:{ManifestWriter.ToCanonicalJson(config(ctx.Manifest))};");
            ctx.Counters["items"] = 3;
            ctx.Metrics[$"{name}.metric"] = 0.5;
        }
    }

    readonly FileStage a = new("a", null, m => new { m.Train.Beta });
    readonly FileStage b;
    readonly FileStage c = new("c", "b", m => new { m.Evaluate.N });

    public StageGraphTests()
    {
        b = new("b", "a", m => new { m.Sample.N }, ctx => FailPoint(ctx));
    }

    Func<StageContext, Task> FailPoint = _ => Task.CompletedTask;

    static ResolvedManifest Manifest(TempWorkspace ws, params string[] sets)
    {
        ws.Write("experiments/x.yaml", "name: x\nmodel:\n  path: m\n  template: alpaca\n");
        return ManifestLoader.Load("x", ws.Workspace, sets);
    }

    StageGraph Graph(TempWorkspace ws) => new(new Stage[] { a, b, c }, ws.Workspace);

    static Task<Plan> Run(StageGraph g, ResolvedManifest m, List<StageEvent>? events = null, RunOptions? o = null) =>
        g.RunAsync(m, o ?? new RunOptions(), SilentProgressReporter.Instance, e => events?.Add(e));

    [Fact]
    public async Task A_second_run_skips_every_stage()
    {
        using var ws = new TempWorkspace();
        var g = Graph(ws);
        var m = Manifest(ws);
        var plan = await Run(g, m);
        Assert.All(plan.Stages, s => Assert.Equal(StageStatus.Cached, s.Status));
        var events = new List<StageEvent>();
        await Run(g, m, events);
        Assert.Equal((1, 1, 1), (a.Runs, b.Runs, c.Runs));
        Assert.All(events, e => Assert.Equal(StageEventKind.Cached, e.Kind));
        Assert.Equal(0.5, events[2].Metrics!["c.metric"]);
        Assert.Equal("a:{\"beta\":0.4};b:{\"n\":2};c:{\"n\":1};", File.ReadAllText(Path.Combine(plan["c"].Dir!, "out.txt")));
    }

    [Fact]
    public async Task A_changed_upstream_value_invalidates_exactly_the_downstream_stages()
    {
        using var ws = new TempWorkspace();
        var g = Graph(ws);
        var first = await Run(g, Manifest(ws));
        var changed = Manifest(ws, "sample.n=3");
        var plan = g.Plan(changed);
        Assert.Equal(StageStatus.Cached, plan["a"].Status);
        Assert.Equal(StageStatus.Stale, plan["b"].Status);
        Assert.Equal("changed: n (2 -> 3)", plan["b"].Reason);
        Assert.Equal(StageStatus.Stale, plan["c"].Status);
        Assert.Equal("changed: upstream 'b'", plan["c"].Reason);
        Assert.Equal(first["a"].Key, plan["a"].Key);
        await Run(g, changed);
        Assert.Equal((1, 2, 2), (a.Runs, b.Runs, c.Runs));
        // the old artifacts stay: going back is a cache hit
        await Run(g, Manifest(ws));
        Assert.Equal((1, 2, 2), (a.Runs, b.Runs, c.Runs));
    }

    [Fact]
    public async Task A_killed_stage_never_looks_complete_and_the_rerun_resumes_its_partial_directory()
    {
        using var ws = new TempWorkspace();
        var g = Graph(ws);
        var m = Manifest(ws);
        FailPoint = ctx =>
        {
            File.WriteAllText(ctx.File("progress.txt"), "half");
            throw new IOException("killed");
        };
        await Assert.ThrowsAsync<IOException>(() => Run(g, m));
        var plan = g.Plan(m);
        Assert.Equal(StageStatus.Cached, plan["a"].Status);
        Assert.Equal(StageStatus.Missing, plan["b"].Status);
        Assert.Contains("partial", plan["b"].Reason);
        Assert.False(Directory.Exists(plan["b"].Dir));
        Assert.True(File.Exists(Path.Combine(plan["b"].Dir + ".partial", "progress.txt")));

        string? resumedFrom = null;
        FailPoint = ctx =>
        {
            resumedFrom = File.ReadAllText(ctx.File("progress.txt"));
            return Task.CompletedTask;
        };
        plan = await Run(g, m);
        Assert.Equal("half", resumedFrom);
        Assert.All(plan.Stages, s => Assert.Equal(StageStatus.Cached, s.Status));
        Assert.False(Directory.Exists(plan["b"].Dir + ".partial"));
    }

    [Fact]
    public async Task Force_reruns_the_stage_and_everything_after_it()
    {
        using var ws = new TempWorkspace();
        var g = Graph(ws);
        var m = Manifest(ws);
        await Run(g, m);
        await Run(g, m, o: new RunOptions(Force: new HashSet<string> { "b" }));
        Assert.Equal((1, 2, 2), (a.Runs, b.Runs, c.Runs));
        var e = await Assert.ThrowsAsync<StepDpoException>(() => Run(g, m, o: new RunOptions(Force: new HashSet<string> { "bb" })));
        Assert.Contains("did you mean 'b'?", e.Message);
    }

    [Fact]
    public async Task Until_stops_early_and_disabled_stages_are_skipped_with_a_reason()
    {
        using var ws = new TempWorkspace();
        var g = Graph(ws);
        b.Disabled = m => m.Sample.N == 5 ? "n is five" : null;
        var plan = await Run(g, Manifest(ws), o: new RunOptions(Until: "a"));
        Assert.Single(plan.Stages);
        var events = new List<StageEvent>();
        plan = await Run(g, Manifest(ws, "sample.n=5"), events);
        Assert.Equal(StageStatus.Disabled, plan["b"].Status);
        Assert.Equal("n is five", plan["b"].Reason);
        Assert.Contains(events, e => e.Stage == "b" && e.Kind == StageEventKind.Disabled);
        Assert.Equal(0, b.Runs);
    }

    [Fact]
    public async Task External_input_content_is_part_of_the_key()
    {
        using var ws = new TempWorkspace();
        string data = ws.Write("data/pool.jsonl", "{\"q\": 1}\n");
        a.Inputs = _ => new[] { data };
        var g = Graph(ws);
        var m = Manifest(ws);
        await Run(g, m);
        File.WriteAllText(data, "{\"q\": 2}\n");
        var plan = g.Plan(m);
        Assert.Equal(StageStatus.Stale, plan["a"].Status);
        Assert.Contains("input file", plan["a"].Reason);
    }

    [Fact]
    public async Task A_pending_stage_refuses_to_run_and_writes_nothing()
    {
        using var ws = new TempWorkspace();
        var g = new StageGraph(new Stage[] { a, new PendingStage("todo", new[] { "a" }, m => new { }) }, ws.Workspace);
        var e = await Assert.ThrowsAsync<StepDpoException>(() => Run(g, Manifest(ws)));
        Assert.Equal("stage 'todo' is not implemented yet; nothing was run (use --until to stop before it)", e.Message);
        Assert.Equal(0, a.Runs);
        Assert.False(Directory.Exists(Path.Combine(ws.Root, "artifacts", "x", "todo")));
    }

    [Fact]
    public async Task Stage_json_records_key_inputs_manifest_and_provenance()
    {
        using var ws = new TempWorkspace();
        var plan = await Run(Graph(ws), Manifest(ws));
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(plan["b"].Dir!, "stage.json")))!;
        Assert.Equal(plan["b"].Key, json["key"]!.GetValue<string>());
        Assert.Equal(plan["a"].Key, json["inputs"]!["upstream"]!["a"]!.GetValue<string>());
        Snapshooter.Xunit.Snapshot.Match(Newtonsoft.Json.Linq.JObject.Parse(json.ToJsonString()), o => o
            .IgnoreField("started").IgnoreField("finished").IgnoreField("duration_seconds")
            .IgnoreField("git_commit").IgnoreField("machine").IgnoreField("tool_version")
            .IgnoreField("manifest_files"));
    }

    [Fact]
    public async Task Two_runs_of_one_experiment_do_not_interleave()
    {
        using var ws = new TempWorkspace();
        var g = Graph(ws);
        var m = Manifest(ws);
        var gate = new TaskCompletionSource();
        FailPoint = _ => gate.Task;
        var first = Run(g, m);
        while (b.Runs == 0) await Task.Delay(10);
        var e = await Assert.ThrowsAsync<StepDpoException>(() => Run(new StageGraph(new Stage[] { a, b, c }, ws.Workspace), m));
        Assert.Contains("another run of experiment 'x'", e.Message);
        gate.SetResult();
        await first;
    }
}
