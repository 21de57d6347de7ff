using System.Text.Json;
using StepDpo.Core;
using StepDpo.Core.Artifacts;

namespace StepDpo.Torch.Training.Trl;

/// <summary>Where the job runs: GPUs over all nodes, the nodes, this node's rank, the rank-0 node's address, and the
/// DeepSpeed ZeRO-3 CPU offload (none, optimizer, or all = optimizer states and parameters).</summary>
public sealed record TrlJob(int Processes, int Machines = 1, int MachineRank = 0, string? MainProcessIp = null,
    int MainProcessPort = 29500, string Offload = "none");

/// <summary>The files <see cref="TrlExport.Write"/> produced and the command that trains with them.</summary>
public sealed record TrlLaunch(string Directory, string Command, IReadOnlyList<string> Files);

/// <summary>
/// `train.backend: trl`: the same run as a TRL DPOTrainer job on GPUs (accelerate + DeepSpeed ZeRO-3), from the same
/// options, in one TRL version's dialect. Writes data/train.jsonl (TRL's rows: prompt = the template-rendered prompt +
/// initial_reason_steps, chosen, rejected), the dialect's config, the shipped training scripts
/// (Step-DPO tokenisation: no EOS after a step), accelerate_zero3.yaml, requirements.txt (pinned) and launch.sh.
/// The per-device accumulation is chosen so micro x accumulation x processes equals the global batch of the options.
/// </summary>
public static class TrlExport
{
    public const string Launcher = "accelerate";
    public const string AccelerateConfig = "accelerate_zero3.yaml";
    public const string OutputFolder = "output";

    public static TrlLaunch Write(string directory, IReadOnlyList<PreferencePair> rows,
        TrainOptions opts, string modelPath, TrlDialect dialect, TrlJob job, string? modelRevision = null)
    {
        opts.Validate();
        if (rows.Count == 0) throw new StepDpoException("train: no preference pairs to export for TRL");
        if (job.Processes < 1) throw new StepDpoException($"train: key 'num_devices' = {job.Processes}: must be >= 1");
        if (job.Processes % job.Machines != 0)
            throw new StepDpoException($"train: num_devices {job.Processes} (GPUs of all nodes) does not split over trl.machines = {job.Machines}");
        if (opts.EvalFraction > 0)
            throw new StepDpoException("train.eval_fraction: the TRL export trains on every pair (no held-out split); set it to 0 with backend trl");
        int perStep = opts.MicroBatchSize * job.Processes;
        if (opts.GlobalBatchSize % perStep != 0)
            throw new StepDpoException($"train: global batch {opts.GlobalBatchSize} (micro_batch_size x gradient_accumulation_steps) " +
                $"is not a multiple of micro_batch_size x processes = {perStep}");
        int accumulation = opts.GlobalBatchSize / perStep;
        Directory.CreateDirectory(Path.Combine(directory, "data"));

        var json = new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        AtomicFile.WriteAllText(Path.Combine(directory, "data", "train.jsonl"), string.Concat(rows.Select(r => JsonSerializer.Serialize(new Dictionary<string, string>
        {
            ["prompt"] = r.Condition, ["chosen"] = r.Chosen, ["rejected"] = r.Rejected,
        }, json) + "\n")));

        var config = dialect == TrlDialect.Current
            ? CurrentConfig(opts, accumulation, modelPath, modelRevision)
            : PaperConfig(opts, accumulation, modelPath, modelRevision);
        AtomicFile.WriteAllText(Path.Combine(directory, dialect.ConfigFile), $"# {dialect.Script} reads this (TRL {dialect.Version}); written by StepDpo's train stage.\n" + TrlYaml.Write(config));
        foreach (var script in dialect.ShippedScripts) AtomicFile.WriteAllText(Path.Combine(directory, script), TrlDialect.ScriptText(script));
        AtomicFile.WriteAllText(Path.Combine(directory, AccelerateConfig), TrlYaml.Write(Accelerate(opts, job)));
        AtomicFile.WriteAllText(Path.Combine(directory, "requirements.txt"),
            $"# TRL {dialect.Version} stack for launch.sh: pip install -r requirements.txt\n" + string.Join("\n", dialect.Requirements) + "\n");

        string command = $"{Launcher} launch --config_file {AccelerateConfig} --machine_rank \"${{MACHINE_RANK:-{job.MachineRank}}}\" " +
                         $"{dialect.Script} {dialect.ScriptArguments}";
        AtomicFile.WriteAllText(Path.Combine(directory, "launch.sh"),
            $"#!/bin/sh\n# Step-DPO with TRL {dialect.Version} DPOTrainer and the options of this stage (pip install -r requirements.txt first).\n" +
            (job.Machines > 1 ? $"# {job.Machines} nodes: run this on each with MACHINE_RANK=0..{job.Machines - 1} (0 on {job.MainProcessIp}).\n" : "") +
            $"set -e\ncd \"$(dirname \"$0\")\"\nexec {command}\n");
        return new TrlLaunch(directory, command,
            ["data/train.jsonl", dialect.ConfigFile, .. dialect.ShippedScripts, AccelerateConfig, "requirements.txt", "launch.sh"]);
    }

    static bool Bf16(TrainOptions o) => TrainDtype.Parse(o.Dtype) == TorchSharp.torch.ScalarType.BFloat16;

    /// <summary>TrainingArguments keys both dialects share (the reference's checkpointing without reentrancy).</summary>
    static IEnumerable<(string, object)> Training(TrainOptions o, int accumulation) =>
    [
        ("output_dir", OutputFolder), ("learning_rate", o.LearningRate), ("lr_scheduler_type", o.LrScheduler),
        ("num_train_epochs", o.Epochs), ("per_device_train_batch_size", o.MicroBatchSize),
        ("gradient_accumulation_steps", accumulation), ("weight_decay", o.WeightDecay), ("adam_beta1", o.AdamBeta1),
        ("adam_beta2", o.AdamBeta2), ("adam_epsilon", o.AdamEpsilon), ("max_grad_norm", o.MaxGradNorm), ("bf16", Bf16(o)),
        ("gradient_checkpointing", o.GradientCheckpointing),
        ("gradient_checkpointing_kwargs", new List<(string, object)> { ("use_reentrant", false) }), ("seed", o.Seed),
        ("save_strategy", o.SaveSteps > 0 ? "steps" : "epoch"), ("save_steps", Math.Max(1, o.SaveSteps)),
        ("save_total_limit", o.SaveTotalLimit), ("logging_steps", 1), ("report_to", "none"),
    ];

    static List<(string, object)> CurrentConfig(TrainOptions o, int accumulation, string modelPath, string? revision)
    {
        var c = new List<(string, object)> { ("model_name_or_path", modelPath) };
        if (revision is not null) c.Add(("model_revision", revision));
        c.Add(("dtype", Bf16(o) ? "bfloat16" : "float32"));
        c.AddRange(Training(o, accumulation));
        // transformers 5 takes the warmup ratio as a float warmup_steps (warmup_ratio is deprecated there).
        c.Add(("warmup_steps", o.WarmupRatio));
        c.AddRange(TrlObjective.Of(o).Keys(TrlDialect.Current));
        c.AddRange([("beta", o.Beta), ("label_smoothing", o.LabelSmoothing), ("max_length", o.MaxLength),
            ("train_file", "data/train.jsonl"), ("max_prompt_length", o.MaxPromptLength)]);
        c.AddRange(Lora(o));
        return c;
    }

    static List<(string, object)> PaperConfig(TrainOptions o, int accumulation, string modelPath, string? revision)
    {
        var c = new List<(string, object)> { ("model_name_or_path", modelPath) };
        if (revision is not null) c.Add(("model_revision", revision));
        c.Add(("torch_dtype", Bf16(o) ? "bfloat16" : "float32"));
        c.AddRange(Training(o, accumulation));
        c.AddRange([("warmup_ratio", o.WarmupRatio), ("remove_unused_columns", false)]);
        c.AddRange(TrlObjective.Of(o).Keys(TrlDialect.Paper));
        c.AddRange([("beta", o.Beta), ("label_smoothing", o.LabelSmoothing), ("max_length", o.MaxLength),
            ("max_prompt_length", o.MaxPromptLength), ("truncation_mode", "keep_end"), ("train_file", "data/train.jsonl")]);
        c.AddRange(Lora(o));
        return c;
    }

    static IEnumerable<(string, object)> Lora(TrainOptions o) => o.Lora is not { } lora ? [] :
        [("use_peft", true), ("lora_r", lora.Rank), ("lora_alpha", (int)Math.Round(lora.Alpha)), ("lora_target_modules", lora.TargetModules)];

    static List<(string, object)> Accelerate(TrainOptions o, TrlJob job)
    {
        string optimizer = job.Offload is "optimizer" or "all" ? "cpu" : "none";
        string parameters = job.Offload is "all" ? "cpu" : "none";
        var c = new List<(string, object)>
        {
            ("compute_environment", "LOCAL_MACHINE"), ("distributed_type", "DEEPSPEED"),
            ("deepspeed_config", new List<(string, object)>
            {
                ("deepspeed_multinode_launcher", "standard"), ("offload_optimizer_device", optimizer), ("offload_param_device", parameters),
                ("zero3_init_flag", true), ("zero3_save_16bit_model", true), ("zero_stage", 3),
            }),
            ("machine_rank", job.MachineRank), ("main_training_function", "main"),
            ("mixed_precision", Bf16(o) ? "bf16" : "no"), ("num_machines", job.Machines), ("num_processes", job.Processes),
            ("rdzv_backend", "static"), ("same_network", true), ("use_cpu", false),
        };
        if (job.Machines > 1) c.AddRange([("main_process_ip", job.MainProcessIp ?? ""), ("main_process_port", job.MainProcessPort)]);
        return c;
    }
}
