using System.Text.Json;
using System.Text.RegularExpressions;
using StepDpo.Torch.Training;
using StepDpo.Torch.Training.Trl;

namespace StepDpo.Torch.Tests.Training.Trl;

/// <summary>
/// Every key the export writes must be a field of an argument class the shipped script parses with, at the pinned
/// version: a key TRL does not know stops the job at start-up ("Unknown arguments from config file" in 1.x, a
/// TypeError from HfArgumentParser in 0.8.5). The field lists are recorded from the sources (Fixtures/trl/fields.json).
/// </summary>
public class TrlFieldCheckTests
{
    static readonly JsonElement Fields = JsonDocument.Parse(File.ReadAllText(
        Path.Combine(AppContext.BaseDirectory, "Fixtures", "trl", "fields.json"))).RootElement;

    static HashSet<string> Of(string version, params string[] classes) =>
        classes.SelectMany(c => Fields.GetProperty(version).GetProperty(c).EnumerateArray().Select(e => e.GetString()!)).ToHashSet();

    /// <summary>The fields of a dataclass declared in a shipped script ("    name: type = ...").</summary>
    static HashSet<string> ScriptDataclass(string script, string name)
    {
        string text = TrlDialect.ScriptText(script);
        var body = Regex.Match(text, $@"class {name}:\n((?:    .*\n)+)").Groups[1].Value;
        return Regex.Matches(body, @"^    (\w+): ", RegexOptions.Multiline).Select(m => m.Groups[1].Value).ToHashSet();
    }

    /// <summary>Everything the recipe can switch on at once: RPO, LoRA, offload, several nodes, checkpoints, fp32.</summary>
    static readonly TrainOptions Everything = new()
    {
        Beta = 0.4, Loss = ["sigmoid", "sft"], LossWeights = [1, 0.5], LearningRate = 5e-7, Epochs = 4, MicroBatchSize = 2,
        GradientAccumulationSteps = 64, SaveSteps = 200, WeightDecay = 0.01, GradientCheckpointing = true, Dtype = "bfloat16",
        Lora = new LoraOptions { Rank = 16, Alpha = 32, TargetModules = ["q_proj", "v_proj"] },
    };

    static List<string> ExportedKeys(TrlDialect dialect, TrainOptions options)
    {
        using var dir = new TempDir();
        TrlExport.Write(dir.Path, TrlExportTests.Rows, options, "/models/qwen2-72b", dialect,
            new TrlJob(16, Machines: 2, MachineRank: 1, MainProcessIp: "10.1.2.3", Offload: "all"), modelRevision: "abc123");
        return TrlYaml.TopLevelKeys(File.ReadAllText(Path.Combine(dir.Path, dialect.ConfigFile))).ToList();
    }

    [Fact]
    public void Every_key_of_the_1_9_config_is_a_field_of_TrlParsers_classes()
    {
        var trl = Of("1.9.0", "TrainingArguments", "_BaseConfig", "DPOConfig", "ModelConfig", "ScriptArguments");
        var ours = ScriptDataclass("stepdpo_trl.py", "StepDpoArguments");
        Assert.Equal(["max_prompt_length", "train_file"], ours.Order());
        // HfArgumentParser refuses two dataclasses declaring the same field.
        Assert.Empty(ours.Intersect(trl));
        var keys = ExportedKeys(TrlDialect.Current, Everything);
        Assert.Equal([], keys.Where(k => !trl.Contains(k) && !ours.Contains(k)).ToList());
        Assert.Contains("loss_weights", keys);
        Assert.Contains("dtype", keys);
        // What 0.29 removed (issue #12) is not written, and the TRL classes of 1.9 indeed lack it.
        foreach (var removed in new[] { "rpo_alpha", "torch_dtype", "max_completion_length", "warmup_ratio" })
            Assert.DoesNotContain(removed, keys);
        Assert.DoesNotContain("rpo_alpha", trl);
        Assert.DoesNotContain("torch_dtype", trl);
    }

    [Fact]
    public void Every_key_of_the_0_8_5_config_is_a_TrainingArguments_ModelConfig_or_DPOTrainer_field()
    {
        var trainingArguments = Of("0.8.5", "TrainingArguments");
        var modelConfig = Of("0.8.5", "ModelConfig");
        var dpoTrainer = Of("0.8.5", "DPOTrainer.__init__");
        var dpoArguments = ScriptDataclass("stepdpo_trl_085.py", "DpoTrainerArguments");
        var ours = ScriptDataclass("stepdpo_trl_085.py", "StepDpoArguments");
        // DpoTrainerArguments are passed to DPOTrainer(**...): each must be one of its parameters.
        Assert.Equal([], dpoArguments.Where(a => !dpoTrainer.Contains(a)).ToList());
        Assert.Empty(ours.Intersect(trainingArguments.Concat(modelConfig).Concat(dpoArguments)));
        Assert.Empty(dpoArguments.Intersect(trainingArguments.Concat(modelConfig)));
        var keys = ExportedKeys(TrlDialect.Paper, Everything);
        var unknown = keys.Where(k => !trainingArguments.Contains(k) && !modelConfig.Contains(k) && !dpoArguments.Contains(k) && !ours.Contains(k));
        Assert.Equal([], unknown.ToList());
        Assert.Contains("rpo_alpha", keys);
        Assert.Contains("torch_dtype", keys);
        // transformers 4.39 (the pin) predates these; the recorded 4.5x list has them, so keep them out by hand.
        foreach (var newer in new[] { "eval_strategy", "average_tokens_across_devices", "use_liger_kernel", "torch_empty_cache_steps", "eval_on_start" })
            Assert.DoesNotContain(newer, keys);
    }

    [Fact]
    public void The_check_catches_what_current_TRL_rejects()
    {
        // The config the export wrote before issue #12 (pre-0.29 keys), checked against 1.9.0's classes.
        string[] old = ["model_name_or_path", "loss_type", "beta", "rpo_alpha", "max_prompt_length", "torch_dtype", "truncation_mode"];
        var trl = Of("1.9.0", "TrainingArguments", "_BaseConfig", "DPOConfig", "ModelConfig", "ScriptArguments");
        Assert.Equal(["rpo_alpha", "max_prompt_length", "torch_dtype"], old.Where(k => !trl.Contains(k)));
    }
}
