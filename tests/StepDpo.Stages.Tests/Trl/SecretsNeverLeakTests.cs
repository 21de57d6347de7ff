using StepDpo.Core;
using StepDpo.Core.Graph;
using StepDpo.Core.Manifests;
using StepDpo.Tests.Hub;

namespace StepDpo.Stages.Tests.Trl;

/// <summary>
/// A run whose model and pairs come from gated Hub repositories (loopback Hub) with HF_TOKEN set, and a judge key in the
/// environment, through pairs and train (stand-in accelerate, which prints both secrets): the token is used (the Hub
/// saw it), yet no artifact file, no console line and no error message contains either secret.
/// </summary>
[Collection("process environment")]
public sealed class SecretsNeverLeakTests : IDisposable
{
    const string Token = "hf_SECRETtoken4c1d2e3f4a5b6c7d8e9f";
    const string JudgeKey = "sk-SECRETjudge0123456789abcdef";
    readonly StandInAccelerate env = new();
    readonly FakeHub hub = new();
    readonly Dictionary<string, string?> saved = new();

    void Set(string name, string? value)
    {
        if (!saved.ContainsKey(name)) saved[name] = Environment.GetEnvironmentVariable(name);
        Environment.SetEnvironmentVariable(name, value);
    }

    [Fact]
    public async Task No_artifact_console_line_or_error_holds_a_secret()
    {
        var model = Directory.GetFiles(env.Checkpoint).ToDictionary(f => Path.GetFileName(f), f => File.ReadAllBytes(f));
        hub.AddCommit("models", "org/gated-model", model, token: Token);
        var rows = Enumerable.Range(1, 4).Select(i => (IReadOnlyDictionary<string, string>)new Dictionary<string, string>
        {
            ["dataset"] = "test", ["prompt"] = $"What is {i}+{i}?", ["initial_reason_steps"] = "Let's think step by step.\nStep 1:",
            ["chosen"] = $" {2 * i}.", ["rejected"] = $" {2 * i + 1}.", ["full_chosen"] = "c", ["full_rejected"] = "r", ["answer"] = $"{2 * i}",
        }).ToList();
        hub.AddCommit("datasets", "org/gated-pairs", new Dictionary<string, byte[]>
        {
            ["data/train-00000-of-00001.parquet"] = await ParquetFixture.WriteAsync(rows, [.. rows[0].Keys]),
        }, token: Token);
        Set("HF_ENDPOINT", hub.Endpoint);
        Set("HF_HUB_CACHE", Path.Combine(env.Root, "hf-cache"));
        Set("HF_TOKEN", Token);
        Set("JUDGE_API_KEY", JudgeKey);

        string root = Path.Combine(env.Root, "ws");
        Directory.CreateDirectory(Path.Combine(root, "experiments"));
        File.WriteAllText(Path.Combine(root, "experiments", "gated.yaml"), """
            name: gated
            model: {path: org/gated-model, template: qwen2-boxed}
            pairs: {from: org/gated-pairs}
            verify: {method: judge, judge: {api_key_env: JUDGE_API_KEY}}
            train: {backend: trl, num_devices: 1, per_device_batch_size: 1, gradient_accumulation_steps: 2}
            """);
        var ws = new Workspace(root, Path.Combine(root, "artifacts"));
        var manifest = ManifestLoader.Load("gated", ws);
        var console = new RecordingProgress();
        var errors = new List<string>();

        // First without the launcher (an error message), then with it.
        env.OnPath(false);
        try { await Pipeline.Graph(ws).RunAsync(manifest, new RunOptions("train"), console); }
        catch (StepDpoException e) { errors.Add(e.Message); }
        Assert.Single(errors);
        env.OnPath(true);
        var plan = await Pipeline.Graph(ws).RunAsync(manifest, new RunOptions("train"), console);
        Assert.Equal(StageStatus.Cached, plan["train"].Status);

        // The secrets were really there: the Hub got the token, and the job printed both (masked in its log).
        Assert.Contains(hub.Requests, r => r.Authorization == $"Bearer {Token}");
        string log = File.ReadAllText(Path.Combine(plan["train"].Dir!, "train.log"));
        Assert.Contains($"HF_TOKEN seen by the job: {Secrets.Mask}", log);
        Assert.Contains($"judge key seen by the job: {Secrets.Mask}", log);

        var leaks = new List<string>();
        foreach (var file in Directory.EnumerateFiles(Path.Combine(root, "artifacts"), "*", SearchOption.AllDirectories))
        {
            string text = File.ReadAllText(file);
            if (text.Contains(Token) || text.Contains(JudgeKey)) leaks.Add(file);
        }
        leaks.AddRange(console.Lines.Concat(errors).Where(l => l.Contains(Token) || l.Contains(JudgeKey)));
        Assert.Empty(leaks);
        Assert.NotEmpty(Directory.EnumerateFiles(Path.Combine(root, "artifacts"), "stage.json", SearchOption.AllDirectories));
    }

    public void Dispose()
    {
        foreach (var (k, v) in saved) Environment.SetEnvironmentVariable(k, v);
        hub.Dispose();
        env.Dispose();
    }
}
