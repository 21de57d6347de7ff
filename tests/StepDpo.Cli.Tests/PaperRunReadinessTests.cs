using System.Security.Cryptography;
using System.Text.Json;
using Parquet;
using Parquet.Schema;
using StepDpo.Core.Manifests;
using StepDpo.Data.Hub;
using StepDpo.Stages.Models;

namespace StepDpo.Cli.Tests;

/// <summary>
/// Issue #12's "done when": `stepdpo plan --experiment qwen2-72b`, with the model and the data on disk (the model and
/// xinlai/Math-Step-DPO-10K in the Hub cache, as `huggingface-cli download` leaves them; the reference's MATH and GSM8K
/// test files under data/test/), shows every stage ready with no error before the first step that needs GPUs; and the
/// run itself, offline, gets through pairs to the TRL launch, where it stops for want of GPUs.
/// The model is a real tiny Qwen2-architecture checkpoint under the 72B's name; the pairs are a real parquet file.
/// </summary>
public sealed class PaperRunReadinessTests : IDisposable
{
    readonly string ws = Cli.TempWorkspace();
    string HubCacheRoot => Path.Combine(ws, "hf-cache");
    const string ModelCommit = "0123456789abcdef0123456789abcdef01234567";
    const string DataCommit = "89abcdef0123456789abcdef0123456789abcdef";
    const int Pairs = 12;

    Dictionary<string, string?> Environment => new() { ["HF_HUB_CACHE"] = HubCacheRoot, ["HF_HUB_OFFLINE"] = "1", ["HF_TOKEN"] = null };

    void PutInHubCache(HubId id, string commit, IEnumerable<(string Path, byte[] Bytes)> files)
    {
        var cache = new HubCache(HubCacheRoot);
        Directory.CreateDirectory(Path.Combine(cache.RepoDir(id), "blobs"));
        foreach (var (path, bytes) in files)
        {
            string etag = Convert.ToHexStringLower(SHA256.HashData(bytes));
            File.WriteAllBytes(cache.BlobPath(id, etag), bytes);
            cache.Link(id, commit, path, etag);
        }
        cache.WriteRef(id, commit);
    }

    public PaperRunReadinessTests()
    {
        string tiny = Path.Combine(ws, "tiny-model");
        ModelStore.CreateRandom(new ModelInit { Arch = "qwen2", Preset = "tiny", Tokenizer = "byte" }, 3, tiny, "bfloat16");
        PutInHubCache(new HubId("Qwen/Qwen2-72B-Instruct", "main", HubRepoType.Model), ModelCommit,
            Directory.GetFiles(tiny).Select(f => (Path.GetFileName(f), File.ReadAllBytes(f))));
        PutInHubCache(new HubId("xinlai/Math-Step-DPO-10K", "main", HubRepoType.Dataset), DataCommit,
            [("data/train-00000-of-00001.parquet", PairsParquet().GetAwaiter().GetResult()), ("README.md", "# pairs"u8.ToArray())]);

        Directory.CreateDirectory(Path.Combine(ws, "data", "test"));
        File.WriteAllLines(Path.Combine(ws, "data", "test", "MATH_test_data.jsonl"), Enumerable.Range(1, 5).Select(i => JsonSerializer.Serialize(new
        {
            idx = $"MATH_{i}", instruction = $"Compute ${i}^2$.", output = $"${i}^2 = {i * i}$. The answer is: {i * i}",
            answer = new[] { $"{i * i}" }, type = "Algebra",
        })));
        File.WriteAllLines(Path.Combine(ws, "data", "test", "GSM8K_test_data.jsonl"), Enumerable.Range(1, 4).Select(i => JsonSerializer.Serialize(new
        {
            idx = $"GSM8K_{i}", instruction = $"Tom has {i} apples and buys {i} more. How many apples does he have?",
            output = $"{i} + {i} = {2 * i}\n#### {2 * i}", answer = new[] { $"{2 * i}" },
        })));
    }

    static async Task<byte[]> PairsParquet()
    {
        string[] columns = ["dataset", "prompt", "initial_reason_steps", "chosen", "rejected", "full_chosen", "full_rejected", "answer"];
        var fields = columns.Select(c => new DataField<string>(c)).ToList();
        using var stream = new MemoryStream();
        await using (var writer = await ParquetWriter.CreateAsync(new ParquetSchema(fields), stream))
        {
            using var group = writer.CreateRowGroup();
            foreach (var f in fields)
                await group.WriteAsync(f, Enumerable.Range(1, Pairs).Select(i => f.Name switch
                {
                    "prompt" => $"What is {i} times 3?",
                    "initial_reason_steps" => "Let's think step by step.\nStep 1:",
                    "chosen" => $" {i} x 3 = {3 * i}.",
                    "rejected" => $" {i} x 3 = {3 * i + 1}.",
                    "answer" => $"{3 * i}",
                    "dataset" => "MATH_Rephrased",
                    _ => $"Step 1: {f.Name} {i}",
                }).ToList());
        }
        return stream.ToArray();
    }

    [Fact]
    public void Plan_shows_every_stage_ready_up_to_the_gpu_steps()
    {
        var r = Cli.RunWith(Environment, ws, "plan", "--experiment", "qwen2-72b", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout);
        var stages = doc.RootElement.GetProperty("stages").EnumerateArray().ToDictionary(s => s.GetProperty("name").GetString()!);
        Assert.Equal(["sft", "sample", "verify"], stages.Where(s => s.Value.GetProperty("status").GetString() == "disabled").Select(s => s.Key));
        foreach (var name in new[] { "pairs", "train", "evaluate", "report" })
        {
            var ready = stages[name].GetProperty("readiness");
            Assert.True(ready.GetProperty("ready").GetBoolean(), $"{name}: {ready}");
            Assert.Equal(0, ready.GetProperty("problems").GetArrayLength());
        }
        string Notes(string stage) => string.Join(" | ", stages[stage].GetProperty("readiness").GetProperty("notes").EnumerateArray().Select(n => n.GetString()));
        Assert.Contains($"pairs: {Pairs} from", Notes("pairs"));
        Assert.Contains($"snapshots/{DataCommit}", Notes("pairs"));
        Assert.Contains($"models--Qwen--Qwen2-72B-Instruct/snapshots/{ModelCommit}", Notes("train"));
        Assert.Contains("math: 5 problems", Notes("evaluate"));
        Assert.Contains("gsm8k: 4 problems", Notes("evaluate"));
        // Nothing before train needs a GPU; train is the TRL job (the paper's 0.8.5 stack, ZeRO-3 with CPU offload on 8 GPUs).
        Assert.Equal(JsonValueKind.Null, stages["pairs"].GetProperty("readiness").GetProperty("gpu").ValueKind);
        string gpu = stages["train"].GetProperty("readiness").GetProperty("gpu").GetString()!;
        Assert.Contains("TRL 0.8.5 + DeepSpeed ZeRO-3, 8 GPUs on 1 node(s), CPU offload (all)", gpu);
    }

    [Fact]
    public void Plan_names_what_is_missing_when_the_data_is_not_there()
    {
        File.Delete(Path.Combine(ws, "data", "test", "MATH_test_data.jsonl"));
        Directory.Delete(Path.Combine(HubCacheRoot, "datasets--xinlai--Math-Step-DPO-10K"), true);
        var r = Cli.RunWith(Environment, ws, "plan", "--experiment", "qwen2-72b", "--json");
        using var doc = JsonDocument.Parse(r.Stdout);
        var stages = doc.RootElement.GetProperty("stages").EnumerateArray().ToDictionary(s => s.GetProperty("name").GetString()!);
        Assert.Contains("HF_HUB_OFFLINE", stages["pairs"].GetProperty("readiness").GetProperty("problems")[0].GetString());
        Assert.Contains("MATH_test_data.jsonl", stages["evaluate"].GetProperty("readiness").GetProperty("problems")[0].GetString());
    }

    [Fact]
    public void The_run_gets_to_the_trl_launch_offline_and_stops_there()
    {
        var r = Cli.RunWith(Environment, ws, "run", "--experiment", "qwen2-72b", "--until", "train");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("`accelerate` is not on PATH", r.Stderr);
        string pairs = Directory.GetFiles(Path.Combine(ws, "artifacts", "qwen2-72b", "pairs"), "pairs.jsonl", SearchOption.AllDirectories).Single();
        Assert.Equal(Pairs, File.ReadAllLines(pairs).Length);
        string partial = Directory.GetDirectories(Path.Combine(ws, "artifacts", "store", "train"), "*.partial").Single();
        string config = File.ReadAllText(Path.Combine(partial, "stepdpo_config.yaml"));
        Assert.Contains($"snapshots/{ModelCommit}", config);
        Assert.Contains("gradient_accumulation_steps: 8\n", config);     // 2 x 8 x 8 = 128
        Assert.Contains("offload_param_device: \"cpu\"", File.ReadAllText(Path.Combine(partial, "accelerate_zero3.yaml")));
        Assert.Equal(Pairs, File.ReadAllLines(Path.Combine(partial, "data", "train.jsonl")).Length);
    }

    public void Dispose()
    {
        try { Directory.Delete(ws, true); } catch (IOException) { }
    }
}
