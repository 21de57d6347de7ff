using StepDpo.Core;
using StepDpo.Core.Graph;
using StepDpo.Core.Manifests;
using StepDpo.Data;
using StepDpo.Stages.Implementations;
using StepDpo.Stages.Models;
using StepDpo.Text;
using StepDpo.Torch.Checkpoints;
using StepDpo.Torch.Model;
using static TorchSharp.torch;

namespace StepDpo.Stages.Tests.Implementations;

/// <summary>The train stage with LoRA through the real stage graph: a random bf16 checkpoint on disk, imported pairs,
/// final/ as a PEFT adapter that the next stage loads as the trained model, or with lora.merge the merged checkpoint
/// next to adapter/; and per_device_batch_size: auto.</summary>
public class LoraTrainStageTests
{
    /// <summary>A workspace with a random bf16 tiny qwen2 start model, four imported pairs and experiments/lora.yaml with
    /// the given train: block (indented by two spaces); runs the graph up to train and returns the train stage's folder.</summary>
    static async Task<(string StageDir, string ModelDir)> Train(TempDir dir, string trainBlock)
    {
        string modelDir = Path.Combine(dir.Path, "start");
        ByteTokenizer.WriteTokenizerJson(dir.Path);
        var config = Presets.Create("qwen2", "tiny", TokenizerVocabulary.Read(dir.Path).Size);
        using (var start = new CausalLM(config, ScalarType.BFloat16))
        {
            RandomInit.Apply(start, 4);
            Checkpoint.Save(start, modelDir, tokenizerFrom: dir.Path);
        }
        var pairs = Enumerable.Range(0, 4).Select(i => new StepDpoPair($"What is {i} + 2?", "Step 1:", $" {i} + 2 = {i + 2}.",
            $" {i} + 2 = {i + 3}.", "", "", $"{i + 2}", "test")).ToList();
        PairFile.Write(dir.File("pairs.jsonl"), pairs);
        Directory.CreateDirectory(dir.File("experiments"));
        File.WriteAllText(dir.File("experiments/lora.yaml"), $"""
            name: lora
            model: {"{"}path: {modelDir}, template: plain, dtype: bfloat16{"}"}
            pairs: {"{"}from: {dir.File("pairs.jsonl")}{"}"}
            train:
              learning_rate: 1.0e-2
              max_length: 64
              max_prompt_length: 32
              gradient_checkpointing: false

            """ + trainBlock);
        var ws = new Workspace(dir.Path, dir.File("artifacts"));
        var plan = await Pipeline.Graph(ws).RunAsync(ManifestLoader.Load("lora", ws), new RunOptions("train"), SilentProgressReporter.Instance);
        return (plan["train"].Dir!, modelDir);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Lora_writes_the_peft_adapter_as_final_or_the_merged_model_with_the_adapter_beside_it(bool merge)
    {
        using var dir = new TempDir();
        var (stageDir, modelDir) = await Train(dir, $"  per_device_batch_size: 2\n  lora: {{rank: 4, alpha: 8, target_modules: [q_proj, v_proj], merge: {(merge ? "true" : "false")}}}\n");
        string final = Path.Combine(stageDir, ModelStore.ModelFolder);
        string adapter = merge ? Path.Combine(stageDir, TrainStage.AdapterFolder) : final;

        Assert.True(File.Exists(Path.Combine(adapter, PeftAdapter.ConfigFile)));
        Assert.True(File.Exists(Path.Combine(adapter, PeftAdapter.WeightsFile)));
        Assert.Equal(merge, File.Exists(Path.Combine(final, Checkpoint.ConfigFile)));
        Assert.Equal(merge, Directory.Exists(Path.Combine(stageDir, TrainStage.AdapterFolder)));

        // What the evaluate stage loads as the trained model: the base with the adapter merged, either way.
        var (trained, _) = ModelStore.Load(final, "bfloat16", "cpu");
        using var disposeTrained = trained;
        using var fromAdapter = Checkpoint.Load(adapter, ScalarType.BFloat16);
        using var start2 = Checkpoint.Load(modelDir, ScalarType.BFloat16);
        foreach (var ((name, p), (_, q), (_, s)) in trained.named_parameters().Zip(fromAdapter.named_parameters(), start2.named_parameters()))
        {
            using var diff = (p - q).abs().max();
            Assert.True(diff.to(ScalarType.Float32).item<float>() == 0, name); // the in-memory merge equals the file's
            using var moved = (p - s).abs().max();
            bool target = name.EndsWith("q_proj.weight") || name.EndsWith("v_proj.weight");
            Assert.True(target == moved.to(ScalarType.Float32).item<float>() > 0, name);
        }
    }

    [Fact]
    public async Task Per_device_batch_size_auto_takes_the_largest_micro_batch_the_memory_plan_fits_and_records_it()
    {
        using var dir = new TempDir();
        var (stageDir, _) = await Train(dir, "  per_device_batch_size: auto\n  global_batch_size: 4\n");
        var counters = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(stageDir, "stage.json")))!["counters"]!;
        // The tiny model fits any micro-batch on this machine: the whole global batch in one forward pass.
        Assert.Equal(4, counters["auto_micro_batch"]!.GetValue<int>());
        Assert.Equal(1, counters["auto_accumulation"]!.GetValue<int>());
        Assert.True(counters["planned_peak_gb"]!.GetValue<double>() > 0);
        Assert.Equal(1, counters["steps"]!.GetValue<long>()); // 4 pairs, 4 per step
    }
}
