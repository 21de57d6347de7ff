using System.Text.Json.Nodes;
using StepDpo.Core.Artifacts;
using StepDpo.Core.Graph;
using StepDpo.Core.Manifests;

namespace StepDpo.Core.Tests;

/// <summary>Cache behaviour of the stage graph, with small real stages that write and read files.</summary>
public class StageGraphTests
{
    /// <summary>a -> b -> c. Each writes out.txt from its config and its upstream's output; Runs counts executions.</summary>
    sealed class FileStage(string name, string? upstream, Func<ManifestReader<Manifest>, object> config, Func<StageContext, Task>? body = null)
        : Stage<object>
    {
        public int Runs;
        public override string Name => name;
        public override int Version => 1;
        public override IReadOnlyList<string> DependsOn(ManifestReader<Manifest> m) => upstream is null ? Array.Empty<string>() : new[] { upstream };
        protected override object Read(ManifestReader<Manifest> m) => config(m);
        public Func<object, IEnumerable<string>> Inputs { get; set; } = _ => Array.Empty<string>();
        protected override IEnumerable<string> Files(object input, Workspace ws) => Inputs(input);
        public Func<ManifestReader<Manifest>, string?> Disabled { get; set; } = _ => null;
        public override string? DisabledReason(ManifestReader<Manifest> m) => Disabled(m);

        protected override async Task RunAsync(StageContext ctx, object input, CancellationToken ct)
        {
            Runs++;
            string before = upstream is null || !ctx.UpstreamDirs.ContainsKey(upstream) ? "" : File.ReadAllText(Path.Combine(ctx.Upstream(upstream), "out.txt"));
            if (body is not null) await body(ctx);
            File.WriteAllText(ctx.File("out.txt"), before + $"{name}:{ManifestWriter.ToCanonicalJson(input)};");
            ctx.Counters["items"] = 3;
            ctx.Metrics[$"{name}.metric"] = 0.5;
        }
    }

    readonly FileStage a = new("a", null, m => new { Beta = m.Get(x => x.Train.Beta) });
    readonly FileStage b;
    readonly FileStage c = new("c", "b", m => new { N = m.Get(x => x.Evaluate.N) });

    public StageGraphTests()
    {
        b = new("b", "a", m => new { N = m.Get(x => x.Sample.N) }, ctx => failPoint(ctx));
    }

    Func<StageContext, Task> failPoint = _ => Task.CompletedTask;

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
        failPoint = ctx =>
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
        failPoint = ctx =>
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
        b.Disabled = m => m.Get(x => x.Sample.N) == 5 ? "n is five" : null;
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
    public async Task A_run_that_needs_a_key_being_written_waits_for_it_and_reuses_it()
    {
        using var ws = new TempWorkspace();
        var m = Manifest(ws);
        var gate = new TaskCompletionSource();
        failPoint = _ => gate.Task;
        var first = Run(Graph(ws), m);
        while (b.Runs == 0) await Task.Delay(10);
        var waits = new List<string>();
        var events = new List<StageEvent>();
        var second = new StageGraph(new Stage[] { a, b, c }, ws.Workspace)
            .RunAsync(m, new RunOptions(), new InfoRecorder(waits), events.Add);
        while (waits.Count == 0) await Task.Delay(10);
        Assert.Contains("another run is writing", Assert.Single(waits));
        Assert.False(second.IsCompleted);
        gate.SetResult();
        await first;
        await second;
        Assert.Equal((1, 1, 1), (a.Runs, b.Runs, c.Runs));
        Assert.Equal("cached (written by another run meanwhile)", events.Single(e => e.Stage == "b").Message);
    }

    [Fact]
    public async Task Experiments_share_the_store_and_each_has_views_of_what_it_used()
    {
        using var ws = new TempWorkspace();
        var g = Graph(ws);
        var x = Manifest(ws);
        ws.Write("experiments/y.yaml", "extends: x.yaml\nname: y\nevaluate:\n  n: 2\n  temperature: 0.8\n  benchmarks: [{name: t, source: gsm8k}]\n");
        var y = ManifestLoader.Load("y", ws.Workspace);
        var px = await Run(g, x);
        Assert.Equal(StageStatus.Cached, g.Plan(y)["b"].Status);
        Assert.Equal(StageStatus.Missing, g.Plan(y)["c"].Status);
        var events = new List<StageEvent>();
        var py = await Run(g, y, events);
        Assert.Equal((1, 1, 2), (a.Runs, b.Runs, c.Runs));
        Assert.Equal(new[] { StageEventKind.Cached, StageEventKind.Cached, StageEventKind.Started, StageEventKind.Completed }, events.Select(e => e.Kind));
        Assert.Equal(px["b"].Dir, py["b"].Dir);
        Assert.StartsWith(Path.Combine(ws.Root, "artifacts", "store", "b") + Path.DirectorySeparatorChar, px["b"].Dir);

        var store = new ArtifactStore(ws.Workspace.ArtifactsDir);
        Assert.Equal(px["c"].Dir, store.ViewTarget("x", "c"));
        Assert.Equal(py["c"].Dir, store.ViewTarget("y", "c"));
        Assert.Equal("../store/c/" + py["c"].Key, new FileInfo(store.View("y", "c")).LinkTarget);
        Assert.Equal(File.ReadAllText(Path.Combine(py["c"].Dir!, "out.txt")), File.ReadAllText(Path.Combine(store.View("y", "c"), "out.txt")));

        // "changed:" compares with what this experiment used last, not with what another experiment wrote later
        string[] three = ["evaluate.n=3", "evaluate.temperature=0.8", "evaluate.benchmarks=[{name: t, source: gsm8k}]"];
        Assert.Equal("changed: n (1 -> 3)", g.Plan(ManifestLoader.Load("x", ws.Workspace, three))["c"].Reason);
        Assert.Equal("changed: n (2 -> 3)", g.Plan(ManifestLoader.Load("y", ws.Workspace, three))["c"].Reason);
    }

    [Fact]
    public void Pointer_file_views_read_like_links()
    {
        using var ws = new TempWorkspace();
        var store = new ArtifactStore(ws.Workspace.ArtifactsDir, symlinks: false);
        store.SetView("x", "b", "0123456789abcdef");
        string view = store.View("x", "b");
        Assert.Null(new FileInfo(view).LinkTarget);
        Assert.Equal("../store/b/0123456789abcdef", File.ReadAllText(view).Trim());
        Assert.Equal(store.Dir("b", "0123456789abcdef"), store.ViewTarget("x", "b"));
        store.SetView("x", "b", "fedcba9876543210");
        Assert.Equal(store.Dir("b", "fedcba9876543210"), store.ViewTarget("x", "b"));
        // a file that is not a view is never taken for one
        File.WriteAllText(Path.Combine(ws.Root, "artifacts", "x", "notes.txt"), "see ../elsewhere");
        Assert.Null(ArtifactStore.ReadView(Path.Combine(ws.Root, "artifacts", "x", "notes.txt")));
    }

    [Fact]
    public async Task Artifacts_of_the_old_per_experiment_layout_move_into_the_store()
    {
        using var ws = new TempWorkspace();
        var g = Graph(ws);
        var m = Manifest(ws);
        var plan = await Run(g, m);
        // what an earlier version left: artifacts/x/STAGE/KEY/ folders
        var store = new ArtifactStore(ws.Workspace.ArtifactsDir);
        foreach (var s in plan.Stages)
        {
            ArtifactStore.RemoveView(store.View("x", s.Name));
            Directory.CreateDirectory(store.View("x", s.Name));
            Directory.Move(s.Dir!, Path.Combine(store.View("x", s.Name), s.Key!));
        }
        Assert.All(g.Plan(m).Stages, s => Assert.Equal(StageStatus.Cached, s.Status));
        Assert.All(plan.Stages, s => Assert.Equal(s.Dir, store.ViewTarget("x", s.Name)));
        await Run(g, m);
        Assert.Equal((1, 1, 1), (a.Runs, b.Runs, c.Runs));
    }

    [Fact]
    public async Task Garbage_is_every_key_no_current_plan_references_and_removing_it_clears_dangling_views()
    {
        using var ws = new TempWorkspace();
        var g = Graph(ws);
        var old = await Run(g, Manifest(ws, "sample.n=3"));
        var now = await Run(g, Manifest(ws));
        var store = new ArtifactStore(ws.Workspace.ArtifactsDir);
        var keep = now.Stages.Select(s => (s.Name, s.Key!)).ToHashSet();
        // reference log-prob caches: kept while a kept artifact names it in its counters (as train does)
        string used = ws.Write("artifacts/store/.cache/reference/0011.jsonl", "{}\n"), unused = ws.Write("artifacts/store/.cache/reference/2233.jsonl", "{}\n");
        var record = JsonNode.Parse(File.ReadAllText(Path.Combine(now["c"].Dir!, "stage.json")))!;
        record["counters"]!["reference_logps"] = "artifacts/store/.cache/reference/0011.jsonl";
        File.WriteAllText(Path.Combine(now["c"].Dir!, "stage.json"), record.ToJsonString());
        var garbage = StoreGarbage.Find(store, keep);
        Assert.Equal(new[] { old["b"].Dir, old["c"].Dir, unused }, garbage.Select(i => i.Path));
        Assert.Equal(StoreGarbage.Bytes(old["b"].Dir!), garbage[0].Bytes);
        Assert.Contains("complete, written by x", garbage[0].What);
        ws.Write("artifacts/other/b", "../store/b/" + old["b"].Key + "\n");   // another experiment's view of an old key

        using (await StoreLocks.Run(store, _ => { }, default))
            Assert.Null(StoreLocks.TryExclusive(store));   // gc never removes under a run
        using (StoreLocks.TryExclusive(store)) StoreGarbage.Remove(store, garbage);
        Assert.False(Directory.Exists(old["b"].Dir));
        Assert.False(File.Exists(old["b"].Dir + ArtifactStore.LockSuffix));
        Assert.False(File.Exists(Path.Combine(ws.Root, "artifacts", "other", "b")));
        Assert.All(now.Stages, s => Assert.True(Directory.Exists(s.Dir)));
        Assert.True(File.Exists(used));
        Assert.False(File.Exists(unused));
        Assert.All(g.Plan(Manifest(ws)).Stages, s => Assert.Equal(StageStatus.Cached, s.Status));
        Assert.Empty(StoreGarbage.Find(store, keep));
    }

    sealed class InfoRecorder(List<string> lines) : IProgressReporter
    {
        public IProgressTask Start(string description, long total) => SilentProgressReporter.Instance.Start(description, total);
        public void Info(string message) { lock (lines) lines.Add(message); }
    }
}
