using System.Text;
using StepDpo.Core;
using StepDpo.Data.Hub;
using StepDpo.Tests.Hub;

namespace StepDpo.Data.Tests.Hub;

/// <summary>The Hub client against a loopback Hub (<see cref="FakeHub"/>): revisions, the Hub cache layout, reuse
/// without the network, resumed downloads, gated repositories, parquet data sets.</summary>
public sealed class HubTests : IDisposable
{
    readonly FakeHub hub = new();
    readonly Fixture.TempDir tmp = new();
    HubCache Cache => new(Path.Combine(tmp.Root, "hub"));
    HubClient Client(string? token = null) => new(new HubOptions(hub.Endpoint, token, Offline: false), TimeSpan.FromMinutes(2));

    static readonly byte[] Weights = Enumerable.Range(0, 300_000).Select(i => (byte)(i * 31 % 251)).ToArray();
    static Dictionary<string, byte[]> ModelFiles() => new()
    {
        ["config.json"] = """{"model_type": "qwen2"}"""u8.ToArray(),
        ["tokenizer.json"] = """{"model": {}}"""u8.ToArray(),
        ["tokenizer_config.json"] = "{}"u8.ToArray(),
        ["model.safetensors"] = Weights,
        ["README.md"] = "# a model"u8.ToArray(),
        ["original/consolidated.00.pth"] = "not wanted"u8.ToArray(),
    };

    [Fact]
    public async Task A_model_branch_resolves_to_a_commit_in_the_hubs_cache_layout()
    {
        string commit = hub.AddCommit("models", "Qwen/Qwen2-7B-Instruct", ModelFiles());
        using var client = Client();
        var id = HubId.TryParse("Qwen/Qwen2-7B-Instruct", HubRepoType.Model)!;
        string dir = await HubSnapshots.GetAsync(id, HubSelection.Model, Cache, client);

        string repo = Path.Combine(tmp.Root, "hub", "models--Qwen--Qwen2-7B-Instruct");
        Assert.Equal(Path.Combine(repo, "snapshots", commit), dir);
        Assert.Equal(commit, File.ReadAllText(Path.Combine(repo, "refs", "main")));
        // LFS blobs are named by their sha256, git files by their blob id; snapshot entries are relative links to them.
        Assert.True(File.Exists(Path.Combine(repo, "blobs", FakeHub.Sha256(Weights))));
        Assert.True(File.Exists(Path.Combine(repo, "blobs", FakeHub.GitBlobId(ModelFiles()["config.json"]))));
        Assert.Equal(Path.Combine("..", "..", "blobs", FakeHub.Sha256(Weights)), new FileInfo(Path.Combine(dir, "model.safetensors")).LinkTarget);
        Assert.Equal(Weights, File.ReadAllBytes(Path.Combine(dir, "model.safetensors")));
        Assert.False(File.Exists(Path.Combine(dir, "README.md")));
        Assert.False(Directory.Exists(Path.Combine(dir, "original")));
        // The weights came from the CDN the Hub redirected to.
        Assert.Contains(hub.Requests, r => r.Path == $"/cdn/{FakeHub.Sha256(Weights)}");
    }

    [Fact]
    public async Task A_cached_snapshot_is_used_without_the_network()
    {
        hub.AddCommit("models", "org/tiny", ModelFiles());
        var id = HubId.TryParse("org/tiny", HubRepoType.Model)!;
        using (var client = Client()) await HubSnapshots.GetAsync(id, HubSelection.Model, Cache, client);
        int before = hub.Requests.Count;
        hub.Dispose();   // no Hub at all now
        using var offline = new HubClient(new HubOptions(hub.Endpoint, null, Offline: false), TimeSpan.FromSeconds(30));
        string dir = await HubSnapshots.GetAsync(id, HubSelection.Model, Cache, offline);
        Assert.Equal(before, hub.Requests.Count);
        Assert.Equal(dir, HubSnapshots.Local(id, HubSelection.Model, Cache));
        // A revision the cache has never seen needs the Hub, and says so.
        var other = id with { Revision = "dev" };
        Assert.Null(HubSnapshots.Local(other, HubSelection.Model, Cache));
        using var noNetwork = new HubClient(new HubOptions(hub.Endpoint, null, Offline: true));
        var e = await Assert.ThrowsAsync<StepDpoException>(() => HubSnapshots.GetAsync(other, HubSelection.Model, Cache, noNetwork));
        Assert.Contains("HF_HUB_OFFLINE", e.Message);
    }

    [Fact]
    public async Task A_dropped_download_resumes_from_the_incomplete_blob_with_a_range_request()
    {
        hub.AddCommit("models", "org/tiny", ModelFiles());
        var id = HubId.TryParse("org/tiny", HubRepoType.Model)!;
        hub.CutNextCdnAfter = 100_000;
        using var client = Client();
        await Assert.ThrowsAnyAsync<Exception>(() => HubSnapshots.GetAsync(id, HubSelection.Model, Cache, client));
        string incomplete = Cache.BlobPath(id, FakeHub.Sha256(Weights)) + ".incomplete";
        long have = new FileInfo(incomplete).Length;
        Assert.InRange(have, 1, Weights.Length - 1);
        Assert.Null(HubSnapshots.Local(id, HubSelection.Model, Cache));   // never used half-downloaded

        string dir = await HubSnapshots.GetAsync(id, HubSelection.Model, Cache, client);
        Assert.Equal(Weights, File.ReadAllBytes(Path.Combine(dir, "model.safetensors")));
        Assert.Contains(hub.Requests, r => r.Path.StartsWith("/cdn/") && r.Range == $"bytes={have}-");
        Assert.False(File.Exists(incomplete));
    }

    [Fact]
    public async Task Gated_repositories_need_HF_TOKEN_which_goes_to_the_hub_and_never_to_the_cdn()
    {
        const string token = "hf_gatedSecret0123456789";
        hub.AddCommit("models", "meta-llama/Meta-Llama-3-70B", ModelFiles(), token: token);
        var id = HubId.TryParse("meta-llama/Meta-Llama-3-70B", HubRepoType.Model)!;
        using (var anonymous = Client())
        {
            var e = await Assert.ThrowsAsync<StepDpoException>(() => HubSnapshots.GetAsync(id, HubSelection.Model, Cache, anonymous));
            Assert.Contains("set HF_TOKEN", e.Message);
        }
        using (var wrong = Client("hf_wrongToken000000000"))
        {
            var e = await Assert.ThrowsAsync<StepDpoException>(() => HubSnapshots.GetAsync(id, HubSelection.Model, Cache, wrong));
            Assert.Contains("has no access", e.Message);
            Assert.DoesNotContain("hf_wrongToken", e.Message);
        }
        using var client = Client(token);
        await HubSnapshots.GetAsync(id, HubSelection.Model, Cache, client);
        Assert.Contains(hub.Requests, r => r.Path.StartsWith("/api/") && r.Authorization == $"Bearer {token}");
        Assert.All(hub.Requests.Where(r => r.Path.StartsWith("/cdn/")), r => Assert.Null(r.Authorization));
        Assert.DoesNotContain(client.Options.ToString(), token);
    }

    internal static readonly string[] PairColumns = ["dataset", "prompt", "initial_reason_steps", "chosen", "rejected", "full_chosen", "full_rejected", "answer"];

    internal static IReadOnlyDictionary<string, string> Pair(int i) => PairColumns.ToDictionary(c => c, c => c switch
    {
        "prompt" => $"What is {i} + {i}?",
        "initial_reason_steps" => "Let's think step by step.\nStep 1:",
        "chosen" => $" {i} + {i} = {2 * i}.",
        "rejected" => $" {i} + {i} = {2 * i + 1}.",
        "answer" => $"{2 * i}",
        "dataset" => "MATH_Rephrased",
        _ => $"Step 1: {c} {i}",
    });

    [Fact]
    public async Task A_parquet_data_set_is_read_as_step_dpo_pairs()
    {
        var rows = Enumerable.Range(1, 5).Select(Pair).ToList();
        byte[] parquet = await ParquetFixture.WriteAsync(rows, PairColumns, rowsPerGroup: 2, indexColumn: "idx");
        hub.AddCommit("datasets", "xinlai/Math-Step-DPO-10K", new Dictionary<string, byte[]>
        {
            ["README.md"] = "---\nlicense: cc-by-nc-4.0\n---"u8.ToArray(),
            ["data/train-00000-of-00001.parquet"] = parquet,
        });
        var id = HubId.TryParse("xinlai/Math-Step-DPO-10K", HubRepoType.Dataset)!;
        using var client = Client();
        string dir = await HubSnapshots.GetAsync(id, HubSelection.Dataset, Cache, client);
        Assert.StartsWith(Path.Combine(tmp.Root, "hub", "datasets--xinlai--Math-Step-DPO-10K", "snapshots"), dir);
        Assert.Equal(["data/train-00000-of-00001.parquet"], HubSelection.DataFiles(dir));
        var pairs = PairFile.Read(Path.Combine(dir, "data", "train-00000-of-00001.parquet")).ToList();
        Assert.Equal(rows.Select(r => r["chosen"]), pairs.Select(p => p.Chosen));
        Assert.Equal("What is 3 + 3?", pairs[2].Prompt);
        var records = Jsonl.Read(Path.Combine(dir, "data", "train-00000-of-00001.parquet")).ToList();
        Assert.Equal([1, 2, 3, 4, 5], records.Select(r => r.Line));
        Assert.Equal("4", records[4].Text("idx"));
    }

    [Fact]
    public void Hub_ids_are_told_apart_from_paths()
    {
        Assert.Equal(new HubId("Qwen/Qwen2-72B-Instruct", "main", HubRepoType.Model), HubId.TryParse("Qwen/Qwen2-72B-Instruct", HubRepoType.Model));
        Assert.Equal("v1.0", HubId.TryParse("a/b@v1.0", HubRepoType.Dataset)!.Revision);
        Assert.Equal("rev", HubId.TryParse("a/b", HubRepoType.Dataset, "rev")!.Revision);
        foreach (var path in new[] { "./models/x", "/abs/path", "models/qwen/x", "data.jsonl", "a/", "" })
            Assert.Null(HubId.TryParse(path, HubRepoType.Model));
        Assert.True(new HubId("a/b", new string('e', 40), HubRepoType.Model).IsPinned);
    }

    [Fact]
    public void The_cache_root_follows_HF_HUB_CACHE_then_HF_HOME()
    {
        var saved = (Environment.GetEnvironmentVariable("HF_HUB_CACHE"), Environment.GetEnvironmentVariable("HF_HOME"));
        try
        {
            Environment.SetEnvironmentVariable("HF_HUB_CACHE", null);
            Environment.SetEnvironmentVariable("HF_HOME", "/data/hf");
            Assert.Equal(Path.Combine("/data/hf", "hub"), HubCache.DefaultRoot());
            Environment.SetEnvironmentVariable("HF_HUB_CACHE", "/fast/cache");
            Assert.Equal("/fast/cache", HubCache.DefaultRoot());
        }
        finally
        {
            Environment.SetEnvironmentVariable("HF_HUB_CACHE", saved.Item1);
            Environment.SetEnvironmentVariable("HF_HOME", saved.Item2);
        }
    }

    [Fact]
    public async Task A_hf_path_with_a_pinned_sha256_is_checked()
    {
        byte[] gsm = Encoding.UTF8.GetBytes("{\"question\": \"1+1?\", \"answer\": \"1+1=2\\n#### 2\"}\n");
        string commit = hub.AddCommit("datasets", "owner/set", new Dictionary<string, byte[]> { ["gsm8k.jsonl"] = gsm });
        using var client = Client();
        var file = DataSources.ParseHubPath($"hf://owner/set@{commit}/gsm8k.jsonl#{FakeHub.Sha256(gsm)}");
        string path = await file.GetAsync(Cache, client);
        Assert.Equal(gsm, File.ReadAllBytes(path));
        var wrong = file with { Sha256 = new string('0', 64) };
        var e = await Assert.ThrowsAsync<StepDpoException>(() => wrong.GetAsync(Cache, client));
        Assert.Contains("does not match the pinned", e.Message);
        Assert.Throws<StepDpoException>(() => DataSources.ParseHubPath("hf://owner/set/gsm8k.jsonl"));
        var missing = new HubFile("owner/set", "main", "nope.jsonl");
        var e2 = await Assert.ThrowsAsync<StepDpoException>(() => missing.GetAsync(Cache, client));
        Assert.Contains("not found", e2.Message);
    }

    public void Dispose()
    {
        hub.Dispose();
        tmp.Dispose();
    }
}
