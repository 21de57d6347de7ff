using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using StepDpo.Core.Artifacts;

namespace StepDpo.Cli.Tests;

/// <summary>
/// Managed serving with real processes on loopback: tiny's sample and evaluate with <c>backend: vllm</c>, where the
/// server command is the built tool's <c>stepdpo serve</c> (vLLM's flags), behind a shell wrapper that also starts a
/// sleeping grandchild, so every test checks that the whole process group is gone afterwards: after a clean run, after
/// Ctrl+C, after the server dies mid-run, after a server that never gets ready. The model is a random tiny one in
/// float32 (no training needed to compare engines); the trained model comes from a few imported pairs.
/// </summary>
public sealed partial class ManagedServingTests : IClassFixture<ManagedServingTests.World>
{
    public sealed class World
    {
        public string Root { get; } = Cli.TempWorkspace();
        public string Sleepers => Path.Combine(Root, "sleepers.txt");

        public World()
        {
            var init = Cli.Run(Root, "model", "init", "--preset", "tiny", "--out", "models/tiny", "--seed", "7", "--dtype", "float32");
            Assert.True(init.ExitCode == 0, init.Stderr);
            File.WriteAllLines(Path.Combine(Root, "pairs.jsonl"), Enumerable.Range(1, 4).Select(i => JsonSerializer.Serialize(new Dictionary<string, string>
            {
                ["prompt"] = $"Ann has {i} apples. She buys 2 more. How many apples does she have?",
                ["initial_reason_steps"] = "Let's think step by step.\nStep 1:",
                ["chosen"] = $" {i} + 2 = {i + 2}.\nThe answer is {i + 2}.",
                ["rejected"] = $" {i} - 2 = {i - 2}.\nThe answer is {i - 2}.",
                ["full_chosen"] = $"Step 1: {i} + 2 = {i + 2}.", ["full_rejected"] = $"Step 1: {i} - 2 = {i - 2}.",
                ["answer"] = $"{i + 2}", ["dataset"] = "test",
            })));
            // The server command: a shell that leaves a sleeping child in the group, then becomes `stepdpo serve`.
            string script = $"sleep 300 >/dev/null 2>&1 & echo $! >> '{Sleepers}'; exec dotnet '{Cli.Dll}' serve \"$@\"";
            File.WriteAllText(Path.Combine(Root, "experiments", "tiny-serve.yaml"), $$$"""
                name: tiny-serve
                seed: 5
                model: {path: models/tiny, template: plain, dtype: float32}
                data:
                  source: synthetic
                  synthetic: {train: 800, pool: 6, test: 6, min_steps: 2, max_steps: 3, max_start: 9, max_addend: 6, max_factor: 4, max_value: 12}
                # A short SFT from the random tiny model: greedy answers that depend on the question (a random model
                # answers every prompt with the same run of newlines, which would make the comparison empty).
                sft: {epochs: 1, per_device_batch_size: 8, learning_rate: 3.0e-3, lr_scheduler: constant, warmup_ratio: 0,
                      max_length: 128, gradient_checkpointing: false, dtype: float32}
                sample: {backend: local, n: 2, temperature: 0.8, top_p: 0.95, max_new_tokens: 24, batch_size: 8,
                         endpoint: {concurrency: 4, timeout_seconds: 300, max_retries: 1}}
                verify: {method: rule}
                pairs: {from: pairs.jsonl}
                train: {epochs: 1, per_device_batch_size: 2, learning_rate: 1.0e-3, max_length: 128, max_prompt_length: 96,
                        gradient_checkpointing: false, dtype: float32}
                evaluate:
                  backend: local
                  max_new_tokens: 24
                  batch_size: 8
                  endpoint: {concurrency: 4, timeout_seconds: 300, max_retries: 1}
                  benchmarks: [{name: test, source: synthetic}]
                serve:
                  command: [sh, -c, {{{JsonSerializer.Serialize(script)}}}, stepdpo-serve]
                  startup_timeout_seconds: 300
                  stop_timeout_seconds: 20
                report: {plots: false}
                """);
        }

        public Cli.Result Run(params string[] args) =>
            Cli.Exec("dotnet", Root, new[] { Cli.Dll }.Concat(args).Concat(["--experiment", "tiny-serve", "--log-format", "plain"]));

        public string StageDir(string stage, params string[] sets)
        {
            var plan = Cli.Run(Root, ["plan", "--experiment", "tiny-serve", "--json", .. sets.SelectMany(s => new[] { "--set", s })]);
            return JsonNode.Parse(plan.Stdout)!["stages"]!.AsArray().First(s => s!["name"]!.GetValue<string>() == stage)!["dir"]!.GetValue<string>();
        }
    }

    readonly World world;
    public ManagedServingTests(World world) => this.world = world;

    static readonly string[] Vllm = ["--set", "sample.backend=vllm", "--set", "evaluate.backend=vllm"];

    [Fact]
    public void Sample_through_the_served_stand_in_equals_the_local_engine()
    {
        var local = world.Run(["sample", "--set", "pairs.from=null"]);
        Assert.True(local.ExitCode == 0, local.Stdout + local.Stderr);
        var served = world.Run(["sample", "--set", "pairs.from=null", .. Vllm]);
        Assert.True(served.ExitCode == 0, served.Stdout + served.Stderr);

        var a = Records(world.StageDir("sample", "pairs.from=null"), "samples.jsonl");
        var b = Records(world.StageDir("sample", "pairs.from=null", "sample.backend=vllm", "evaluate.backend=vllm"), "samples.jsonl");
        Assert.Equal(12, a.Count);   // 6 problems x 2 samples at temperature 0.8: the seeds travel with the requests
        Assert.Equal(a.Select(r => (r["id"]!.GetValue<string>(), r["solution"]!.GetValue<string>())),
            b.Select(r => (r["id"]!.GetValue<string>(), r["solution"]!.GetValue<string>())));
        AssertStopped(ServerPids(world.StageDir("sample", "pairs.from=null", "sample.backend=vllm", "evaluate.backend=vllm"), "start"));
    }

    [Fact]
    public void Evaluate_serves_the_start_then_the_trained_model_and_equals_the_local_engine_record_by_record()
    {
        var local = world.Run(["eval"]);
        Assert.True(local.ExitCode == 0, local.Stdout + local.Stderr);
        var served = world.Run(["eval", .. Vllm]);
        Assert.True(served.ExitCode == 0, served.Stdout + served.Stderr);
        Assert.Contains("train     cached", served.Stdout);   // the same trained model, served this time
        Assert.Contains("sft       cached", served.Stdout);

        var a = Records(world.StageDir("evaluate"), "results.jsonl");
        var dir = world.StageDir("evaluate", "sample.backend=vllm", "evaluate.backend=vllm");
        var b = Records(dir, "results.jsonl");
        Assert.Equal(12, a.Count);   // 6 test problems x (start, trained), greedy
        Assert.Equal(a.Select(r => r["id"]!.GetValue<string>()), b.Select(r => r["id"]!.GetValue<string>()));
        for (int i = 0; i < a.Count; i++)
        {
            Assert.Equal(a[i]["response"]!.GetValue<string>(), b[i]["response"]!.GetValue<string>());
            Assert.Equal(a[i]["correct"]!.GetValue<bool>(), b[i]["correct"]!.GetValue<bool>());
        }
        // Answers differ from problem to problem, and training changed the model: the comparison is not empty.
        Assert.True(a.Select(r => r["response"]!.GetValue<string>()).Distinct().Count() > 3, string.Join(" | ", a.Select(r => r["response"])));
        Assert.NotEqual(a.Where(r => r["model"]!.GetValue<string>() == "start").Select(r => r["response"]!.GetValue<string>()),
            a.Where(r => r["model"]!.GetValue<string>() == "trained").Select(r => r["response"]!.GetValue<string>()));
        var counters = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "stage.json")))!["counters"]!;
        Assert.True(counters["server_start_ready_seconds"]!.GetValue<double>() > 0);
        Assert.True(counters["server_trained_ready_seconds"]!.GetValue<double>() > 0);
        var startLog = File.ReadAllText(Path.Combine(dir, "server-start.log"));
        var trainedLog = File.ReadAllText(Path.Combine(dir, "server-trained.log"));
        Assert.Contains("--served-model-name start --tensor-parallel-size 1 --host 127.0.0.1 --port", startLog);
        Assert.Contains(Path.Combine("sft", ""), startLog);
        Assert.Contains(Path.Combine("train", ""), trainedLog);
        Assert.Contains("ready at http://127.0.0.1:", trainedLog);
        AssertStopped([.. ServerPids(dir, "start"), .. ServerPids(dir, "trained")]);
    }

    [Fact]
    public void Ctrl_C_stops_the_server_and_its_children()
    {
        // A longer evaluation (its own key: 64 samples per problem, the most a request may ask), interrupted while the
        // server works.
        var (exit, output, log, _) = Interrupted(64, pid => Signal(pid, SigInt));
        Assert.True(exit == 130, $"exit {exit}: {output}");
        Assert.Contains("cancelled", output);
        AssertStopped(ServerPidsFromLog(log));
    }

    [Fact]
    public void A_server_that_dies_mid_run_fails_the_stage_with_its_log_tail_and_leaves_nothing()
    {
        int serverPid = 0;
        var (exit, output, log, _) = RunUntilServing(LongerEvaluation(49), _ =>
        {
            serverPid = ServerPidsFromLog(File.ReadAllText(currentLog!))[0];
            Signal(serverPid, SigKill);
        });
        Assert.True(exit == 2, $"exit {exit}: {output}");
        Assert.Contains($"(pid {serverPid}) exited with code 137 during the run", output);
        Assert.Contains("Last lines of", output);
        AssertStopped(ServerPidsFromLog(log));
    }

    [Fact]
    public void A_server_left_by_a_killed_run_is_stopped_by_the_next_run()
    {
        // SIGKILL: the tool cannot stop anything, and its server runs on.
        var (exit, _, log, longer) = Interrupted(58, pid => Signal(pid, SigKill));
        Assert.Equal(137, exit);
        var orphan = ServerPidsFromLog(log).Single();
        Assert.True(IsAlive(orphan), "the server should have outlived the killed run");

        // The rerun resumes the same stage folder, finds the pid file and stops the orphan before serving again.
        var (again, output, log2, _) = RunUntilServing(longer, pid => Signal(pid, SigInt));
        // (The resumed evaluation has less left to do and may finish before the interruption: either way the orphan
        // was stopped first.)
        Assert.True(again is 130 or 0, output);
        Assert.Contains($"stopping server pid {orphan}, left running by a run that was killed", log2);
        AssertStopped(ServerPidsFromLog(log2));
    }

    [Fact]
    public void A_server_that_never_gets_ready_is_stopped_after_the_startup_timeout()
    {
        var r = world.Run(["sample", "--set", "pairs.from=null", "--set", "sample.backend=vllm", "--set", "seed=8",
            "--set", "serve.command=[sh, -c, 'sleep 300', never-ready]", "--set", "serve.startup_timeout_seconds=3"]);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("did not answer http://127.0.0.1:", r.Stderr);
        Assert.Contains("within 3 s (serve.startup_timeout_seconds)", r.Stderr);
        var log = Directory.GetFiles(Path.Combine(world.Root, "artifacts", "store", "sample"), "server-start.log", SearchOption.AllDirectories)
            .Select(File.ReadAllText).Single(l => l.Contains("never-ready"));
        AssertStopped(ServerPidsFromLog(log));
    }

    [Fact]
    public void A_server_that_exits_at_once_is_reported_with_its_own_words()
    {
        var r = world.Run(["sample", "--set", "pairs.from=null", "--set", "sample.backend=vllm", "--set", "seed=9",
            "--set", "serve.extra_args=[--no-such-flag]"]);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("server exited with code", r.Stderr);
        Assert.Contains("before it was ready", r.Stderr);
        Assert.Contains("no-such-flag", r.Stderr);   // stepdpo serve's own complaint, quoted from the log
    }

    // --- helpers -----------------------------------------------------------------------------------------------

    string? currentLog;

    /// <summary>An evaluation with its own key: <paramref name="n"/> samples of up to 300 tokens per problem.</summary>
    static string[] LongerEvaluation(int n) =>
        ["eval", .. Vllm, "--set", $"evaluate.n={n}", "--set", "evaluate.temperature=1", "--set", "evaluate.max_new_tokens=300"];

    /// <summary>A longer evaluation (its own key: <paramref name="n"/> samples per problem) interrupted while the server
    /// works. On a quick machine the evaluation can end before the interruption comes; then it is tried again with one
    /// sample fewer (a new key), up to five times.</summary>
    (int Exit, string Output, string Log, string[] Args) Interrupted(int n, Action<int> interrupt)
    {
        for (int attempt = 0; ; attempt++)
        {
            var args = LongerEvaluation(n - attempt);
            var (exit, output, log, finished) = RunUntilServing(args, interrupt);
            if (!finished || attempt == 4) return (exit, output, log, args);
        }
    }

    /// <summary>Starts the tool, waits until the start model's server in a partial evaluate folder says "ready" and has
    /// had a quarter of a second of requests, calls <paramref name="interrupt"/> with the tool's pid, and returns the tool's exit
    /// code, its output and that server log.</summary>
    (int Exit, string Output, string Log, bool FinishedFirst) RunUntilServing(string[] args, Action<int> interrupt)
    {
        // Started as a terminal starts a foreground program: with SIGINT at its default. A process that starts with
        // SIGINT ignored (a background job of a non-interactive shell, nohup; CI runners start tests so) keeps ignoring
        // it, as Unix programs conventionally do and .NET does: the tool never saw the test's Ctrl+C there.
        var psi = new ProcessStartInfo("env") { WorkingDirectory = world.Root, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "--default-signal=INT", "dotnet", Cli.Dll }.Concat(args).Concat(["--experiment", "tiny-serve", "--log-format", "plain"])) psi.ArgumentList.Add(a);
        psi.Environment["CI"] = "true";
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        var evaluate = Path.Combine(world.Root, "artifacts", "store", "evaluate");
        IEnumerable<string> Logs() => (Directory.Exists(evaluate) ? Directory.GetDirectories(evaluate, "*.partial") : [])
            .Select(d => Path.Combine(d, "server-start.log")).Where(File.Exists);
        static int Readies(string text) => text.Split("ready at").Length - 1;
        // A resumed folder's log already tells of earlier servers: wait for a new "ready" not followed by "stopped".
        var before = Logs().ToDictionary(l => l, l => Readies(File.ReadAllText(l)));
        var clock = Stopwatch.StartNew();
        while (true)
        {
            // (The message reads the output only on failure: reading it waits for the process to end.)
            if (p.HasExited) Assert.Fail("the run ended before its server was up: " + stdout.Result + stderr.Result);
            Assert.True(clock.Elapsed < TimeSpan.FromMinutes(10), "no server got ready within 10 minutes");
            var log = Logs().FirstOrDefault(l =>
            {
                var text = File.ReadAllText(l);
                return Readies(text) > before.GetValueOrDefault(l) && !text[text.LastIndexOf("ready at", StringComparison.Ordinal)..].Contains(": stopped");
            });
            if (log is not null) { currentLog = log; break; }
            Thread.Sleep(100);
        }
        // Interrupted soon after: the evaluation may take little more than a second once the server is ready.
        Thread.Sleep(250);
        interrupt(p.Id);
        Assert.True(p.WaitForExit(TimeSpan.FromMinutes(5)), "the tool did not exit after the interruption");
        // The log is in the partial folder, or in the finished one when the stage ended before the interruption came.
        bool finished = !File.Exists(currentLog!);
        string logFile = finished ? currentLog!.Replace(ArtifactStore.PartialSuffix + Path.DirectorySeparatorChar, Path.DirectorySeparatorChar.ToString()) : currentLog!;
        return (p.ExitCode, stdout.Result + stderr.Result, File.ReadAllText(logFile), finished);
    }

    static List<JsonNode> Records(string dir, string file) =>
        File.ReadLines(Path.Combine(dir, file)).Where(l => l.Length > 0).Select(l => JsonNode.Parse(l)!)
            .OrderBy(r => r["id"]!.GetValue<string>(), StringComparer.Ordinal).ToList();

    List<int> ServerPids(string dir, string role) => ServerPidsFromLog(File.ReadAllText(Path.Combine(dir, $"server-{role}.log")));

    /// <summary>Every server pid a log names, and the sleeping grandchildren the wrapper started.</summary>
    List<int> ServerPidsFromLog(string log)
    {
        var pids = PidLine().Matches(log).Select(m => int.Parse(m.Groups[1].Value)).ToList();
        Assert.NotEmpty(pids);
        return pids;
    }

    void AssertStopped(IReadOnlyList<int> serverPids)
    {
        var sleepers = File.Exists(world.Sleepers) ? File.ReadAllLines(world.Sleepers).Where(l => l.Length > 0).Select(int.Parse) : [];
        foreach (var pid in serverPids.Concat(sleepers))
            Assert.False(IsAlive(pid), $"process {pid} is still running");
    }

    /// <summary>Running, as opposed to gone or a zombie waiting to be reaped.</summary>
    static bool IsAlive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var state = stat[(stat.LastIndexOf(')') + 2)..][0];
            return state is not ('Z' or 'X');
        }
        catch (IOException) { return false; }
    }

    const int SigInt = 2, SigKill = 9;

    [DllImport("libc", EntryPoint = "kill")]
    static extern int Signal(int pid, int signal);

    [GeneratedRegex(@"=== stepdpo: pid (\d+)")]
    private static partial Regex PidLine();
}
