using StepDpo.Core;
using StepDpo.Core.Artifacts;
using StepDpo.Core.Graph;
using StepDpo.Core.Manifests;
using StepDpo.Data;
using StepDpo.Stages.Models;
using StepDpo.Torch.Training;

namespace StepDpo.Stages.Tests.Implementations;

/// <summary>Keys that cannot miss an input: a value a stage reads changes its key (and those downstream), and the
/// reference log-prob cache is not reused across the things its values depend on.</summary>
public class CacheKeyTests
{
    const string Tiny = """
        name: keys
        model: {init: {preset: tiny}, template: plain}
        data: {synthetic: {train: 20, pool: 10, test: 10, min_steps: 2, max_steps: 3, max_start: 9, max_addend: 6, max_factor: 4, max_value: 12}}
        sft: {epochs: 1, per_device_batch_size: 4, max_length: 128}
        sample: {n: 2, max_new_tokens: 32}
        verify: {method: rule}
        pairs: {samples: 2, max_new_tokens: 32}
        train: {max_length: 128, max_prompt_length: 96}
        evaluate: {max_new_tokens: 32, benchmarks: [{name: test, source: synthetic}]}
        """;

    static Dictionary<string, string?> Keys(Workspace ws, params string[] sets) =>
        Pipeline.Graph(ws).Plan(ManifestLoader.Load("keys", ws, sets)).Stages.ToDictionary(s => s.Name, s => s.Key);

    static Workspace Write(TempDir dir, string name, string yaml)
    {
        Directory.CreateDirectory(dir.File("experiments"));
        File.WriteAllText(dir.File($"experiments/{name}.yaml"), yaml);
        return new Workspace(dir.Path, dir.File("artifacts"));
    }

    [Fact]
    public void The_grader_is_in_the_keys_of_the_stages_that_grade()
    {
        using var dir = new TempDir();
        var ws = Write(dir, "keys", Tiny);
        var before = Keys(ws);
        var after = Keys(ws, "evaluate.grader=hendrycks");
        Assert.Equal(before["sft"], after["sft"]);
        // sample, verify (rollouts), pairs (rectification) and evaluate grade; train and report follow them.
        foreach (var stage in new[] { "sample", "verify", "pairs", "train", "evaluate", "report" })
            Assert.NotEqual(before[stage], after[stage]);
        Assert.All(before.Values, Assert.NotNull);
    }

    [Fact]
    public void The_report_key_covers_the_manifest_it_embeds()
    {
        using var dir = new TempDir();
        var ws = Write(dir, "keys", Tiny);
        var before = Keys(ws);
        var after = Keys(ws, "description=what report.md shows");
        foreach (var stage in StageCatalog.Names)
            if (stage == "report") Assert.NotEqual(before[stage], after[stage]);
            else Assert.Equal(before[stage], after[stage]);
    }

    /// <summary>Three real train runs of a tiny model on three pairs: fp32, then bf16 (the cached fp32 values must not be
    /// used), then bf16 with another beta (the bf16 values are reused).</summary>
    [Fact]
    public async Task The_reference_logprob_cache_follows_the_dtype()
    {
        using var dir = new TempDir();
        ModelStore.CreateRandom(new ModelInit { Preset = "tiny" }, 7, dir.File("model"), "float32");
        PairFile.Write(dir.File("pairs.jsonl"), Enumerable.Range(1, 3).Select(i => new StepDpoPair(
            $"Tom has {i} apples and buys {i + 2}. How many?", "Step 1: ", $"{i} + {i + 2} = {2 * i + 2}.", $"{i} - {i + 2} = 0.",
            "", "", $"{2 * i + 2}", "test")));
        var ws = Write(dir, "keys", """
            name: keys
            model: {path: model, template: plain, dtype: float32}
            pairs: {from: pairs.jsonl}
            train: {epochs: 1, per_device_batch_size: 2, max_length: 64, max_prompt_length: 48, gradient_checkpointing: false, dtype: float32, learning_rate: 1.0e-4}
            """);

        async Task<string> ReferenceFile(params string[] sets)
        {
            var plan = await Pipeline.Graph(ws).RunAsync(ManifestLoader.Load("keys", ws, sets), new RunOptions("train"), SilentProgressReporter.Instance);
            var file = StageRecord.TryRead(plan["train"].Dir!)!["counters"]!["reference_logps"]!.GetValue<string>();
            return Path.GetFullPath(file);
        }

        string fp32 = await ReferenceFile();
        string bf16 = await ReferenceFile("train.dtype=bfloat16");
        Assert.NotEqual(fp32, bf16);
        var (a, b) = (ReferenceLogps.Load(fp32), ReferenceLogps.Load(bf16));
        Assert.NotEqual(a.Key, b.Key);
        Assert.NotEqual(a.Chosen, b.Chosen); // bf16 weights round differently: reusing fp32 values would be wrong
        Assert.Equal(bf16, await ReferenceFile("train.dtype=bfloat16", "train.beta=0.2"));
        Assert.Equal(2, Directory.GetFiles(Path.GetDirectoryName(fp32)!, "*.jsonl").Length);
    }
}
