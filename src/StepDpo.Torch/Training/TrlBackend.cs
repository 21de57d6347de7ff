using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using StepDpo.Core;

namespace StepDpo.Torch.Training;

/// <summary>A pair in the public Step-DPO data format (xinlai/Math-Step-DPO-10K field names).</summary>
public sealed record StepDpoRecord(string Prompt, string InitialReasonSteps, string Chosen, string Rejected);

/// <summary>The files <see cref="TrlBackend.Write"/> produced and the command that trains with them.</summary>
public sealed record TrlLaunch(string Directory, string Command, IReadOnlyList<string> Files);

/// <summary>
/// `train.backend: trl`: the same run for TRL's DPOTrainer on GPUs (accelerate + DeepSpeed ZeRO-3), from the same options.
/// Writes pairs.jsonl (public Step-DPO format, for provenance and the reference scripts), data/train.jsonl (TRL's
/// prompt/chosen/rejected with the template-rendered condition as prompt), dpo_config.yaml (TrlParser's --config),
/// accelerate_zero3.yaml and launch.sh. The per-device accumulation is chosen so micro x accumulation x processes equals
/// the global batch of the options. Known difference: recent TRL appends EOS to completions; Step-DPO does not.
/// </summary>
public static class TrlBackend
{
    public const string Launcher = "accelerate";

    public static TrlLaunch Write(string directory, IReadOnlyList<StepDpoRecord> records, Func<StepDpoRecord, string> renderCondition,
        TrainOptions opts, string modelPath, int processes = 8)
    {
        opts.Validate();
        if (records.Count == 0) throw new StepDpoException("train: no preference pairs to export for TRL");
        if (processes < 1) throw new StepDpoException($"train: key 'trl.processes' = {processes}: must be >= 1");
        int perStep = opts.MicroBatchSize * processes;
        if (opts.GlobalBatchSize % perStep != 0)
            throw new StepDpoException($"train: global batch {opts.GlobalBatchSize} (micro_batch_size x gradient_accumulation_steps) " +
                $"is not a multiple of micro_batch_size x processes = {perStep}");
        int accumulation = opts.GlobalBatchSize / perStep;
        Directory.CreateDirectory(Path.Combine(directory, "data"));

        var json = new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        File.WriteAllLines(Path.Combine(directory, "pairs.jsonl"), records.Select(r => JsonSerializer.Serialize(new Dictionary<string, string>
        {
            ["prompt"] = r.Prompt, ["initial_reason_steps"] = r.InitialReasonSteps, ["chosen"] = r.Chosen, ["rejected"] = r.Rejected,
        }, json)));
        File.WriteAllLines(Path.Combine(directory, "data", "train.jsonl"), records.Select(r => JsonSerializer.Serialize(new Dictionary<string, string>
        {
            ["prompt"] = renderCondition(r), ["chosen"] = r.Chosen, ["rejected"] = r.Rejected,
        }, json)));

        var config = new List<(string Key, object Value)>
        {
            ("model_name_or_path", modelPath), ("dataset_name", "data"), ("output_dir", "output"),
            ("loss_type", opts.Loss.Count == 1 ? opts.Loss[0] : opts.Loss), ("beta", opts.Beta), ("label_smoothing", opts.LabelSmoothing),
            ("learning_rate", opts.LearningRate), ("lr_scheduler_type", opts.LrScheduler), ("warmup_ratio", opts.WarmupRatio),
            ("num_train_epochs", opts.Epochs), ("per_device_train_batch_size", opts.MicroBatchSize),
            ("gradient_accumulation_steps", accumulation), ("max_length", opts.MaxLength), ("max_prompt_length", opts.MaxPromptLength),
            ("truncation_mode", "keep_end"), ("weight_decay", opts.WeightDecay), ("adam_beta1", opts.AdamBeta1),
            ("adam_beta2", opts.AdamBeta2), ("adam_epsilon", opts.AdamEpsilon), ("max_grad_norm", opts.MaxGradNorm),
            ("bf16", TrainDtype.Parse(opts.Dtype) == TorchSharp.torch.ScalarType.BFloat16),
            ("torch_dtype", TrainDtype.Parse(opts.Dtype) == TorchSharp.torch.ScalarType.BFloat16 ? "bfloat16" : "float32"),
            ("gradient_checkpointing", opts.GradientCheckpointing), ("seed", opts.Seed),
            ("save_strategy", opts.SaveSteps > 0 ? "steps" : "epoch"), ("save_steps", Math.Max(1, opts.SaveSteps)),
            ("save_total_limit", opts.SaveTotalLimit), ("logging_steps", 1), ("report_to", "none"),
        };
        if (opts.LossWeights.Count > 0) config.Add(("loss_weights", opts.LossWeights));
        if (opts.Loss.Contains("discopop")) config.Add(("discopop_tau", opts.DiscopopTau));
        if (opts.EvalFraction > 0)
        {
            config.Add(("eval_strategy", opts.EvalSteps > 0 ? "steps" : "epoch"));
            if (opts.EvalSteps > 0) config.Add(("eval_steps", opts.EvalSteps));
        }
        if (opts.Lora is { } lora)
        {
            config.Add(("use_peft", true)); config.Add(("lora_r", lora.Rank)); config.Add(("lora_alpha", lora.Alpha));
            config.Add(("lora_target_modules", lora.TargetModules));
        }
        File.WriteAllText(Path.Combine(directory, "dpo_config.yaml"), Yaml(config));
        File.WriteAllText(Path.Combine(directory, "accelerate_zero3.yaml"), Yaml(
        [
            ("compute_environment", "LOCAL_MACHINE"), ("distributed_type", "DEEPSPEED"),
            ("deepspeed_config", new List<(string, object)>
            {
                ("zero_stage", 3), ("zero3_init_flag", true), ("zero3_save_16bit_model", true),
                ("offload_optimizer_device", "none"), ("offload_param_device", "none"), ("deepspeed_multinode_launcher", "standard"),
            }),
            ("mixed_precision", TrainDtype.Parse(opts.Dtype) == TorchSharp.torch.ScalarType.BFloat16 ? "bf16" : "no"),
            ("machine_rank", 0), ("num_machines", 1), ("num_processes", processes), ("rdzv_backend", "static"),
            ("same_network", true), ("use_cpu", false),
        ]));
        string command = $"{Launcher} launch --config_file accelerate_zero3.yaml -m trl.scripts.dpo --config dpo_config.yaml";
        File.WriteAllText(Path.Combine(directory, "launch.sh"),
            $"#!/bin/sh\n# TRL DPOTrainer with the options of this stage; run from this directory.\nset -e\ncd \"$(dirname \"$0\")\"\n{command}\n");
        return new TrlLaunch(directory, command,
            ["pairs.jsonl", "data/train.jsonl", "dpo_config.yaml", "accelerate_zero3.yaml", "launch.sh"]);
    }

    /// <summary>Whether <see cref="Launcher"/> is on PATH.</summary>
    public static bool LauncherAvailable() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
            .Any(d => d.Length > 0 && File.Exists(Path.Combine(d, Launcher)));

    /// <summary>Runs launch.sh when the launcher is on PATH, streaming its output; returns its exit code, or null when
    /// the launcher is missing (the files stay for a GPU machine).</summary>
    public static int? RunIfAvailable(TrlLaunch launch, Action<string>? output = null, CancellationToken ct = default)
    {
        if (!LauncherAvailable()) return null;
        var psi = new ProcessStartInfo("sh", "launch.sh") { WorkingDirectory = launch.Directory, RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(psi)!;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) output?.Invoke(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) output?.Invoke(e.Data); };
        process.BeginOutputReadLine(); process.BeginErrorReadLine();
        using var reg = ct.Register(() => { try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { } });
        process.WaitForExit();
        ct.ThrowIfCancellationRequested();
        return process.ExitCode;
    }

    static string Yaml(IEnumerable<(string Key, object Value)> entries, int indent = 0)
    {
        var sb = new StringBuilder();
        string pad = new(' ', indent);
        foreach (var (key, value) in entries)
        {
            if (value is List<(string, object)> nested) sb.Append(pad).Append(key).Append(":\n").Append(Yaml(nested, indent + 2));
            else if (value is IEnumerable<string> list)
                sb.Append(pad).Append(key).Append(": [").Append(string.Join(", ", list.Select(Scalar))).Append("]\n");
            else if (value is IEnumerable<double> numbers)
                sb.Append(pad).Append(key).Append(": [").Append(string.Join(", ", numbers.Select(n => Scalar(n)))).Append("]\n");
            else sb.Append(pad).Append(key).Append(": ").Append(Scalar(value)).Append('\n');
        }
        return sb.ToString();
    }

    static string Scalar(object value) => value switch
    {
        bool b => b ? "true" : "false",
        // Always with a dot and a signed exponent: PyYAML reads "5E-07" or "1" as a string or an int, not a float.
        double d => Math.Abs(d) is 0 or (>= 1e-4 and < 1e15)
            ? d.ToString("0.0###############", CultureInfo.InvariantCulture)
            : d.ToString("0.0###############e+00", CultureInfo.InvariantCulture),
        int i => i.ToString(CultureInfo.InvariantCulture),
        string s => JsonSerializer.Serialize(s), // a JSON string is a valid YAML double-quoted scalar
        _ => throw new ArgumentException($"no YAML form for {value.GetType()}"),
    };
}
