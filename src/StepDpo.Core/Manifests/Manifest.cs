namespace StepDpo.Core.Manifests;

/// <summary>
/// One experiment, as written in experiments/NAME.yaml (after `extends` and `--set`). Keys are the snake_case
/// names of these properties. Each stage reads its own section; its cache key hashes exactly what it reads.
/// Rules that tie keys together are in ManifestRules.cs.
/// </summary>
public sealed partial class Manifest
{
    [RequiredKey, Doc("experiment name; artifacts/NAME/STAGE shows the artifacts its last run used (they live in artifacts/store/)")]
    public string Name { get; set; } = "";
    public string Description { get; set; } = "";
    [Doc("master seed: every stage derives its own seeds from it")]
    public long Seed { get; set; } = 1234;
    [Doc("a base manifest, relative to this file (deep-merged under this one)")]
    public string? Extends { get; set; }
    [RequiredKey] public ModelSection Model { get; set; } = new();
    public DataSection Data { get; set; } = new();
    [Doc("optional supervised fine-tuning before Step-DPO (the tiny experiment trains its model from scratch)")]
    public SftSection? Sft { get; set; }
    public SampleSection Sample { get; set; } = new();
    [Doc("the generation server that stages with backend vllm or sglang start, serve and stop themselves")]
    public ServeSection Serve { get; set; } = new();
    public VerifySection Verify { get; set; } = new();
    public PairsSection Pairs { get; set; } = new();
    public TrainSection Train { get; set; } = new();
    public EvaluateSection Evaluate { get; set; } = new();
    public ReportSection Report { get; set; } = new();
    [Doc("metric thresholds, e.g. trained.math.accuracy: {min: 0.70}")]
    public Dictionary<string, Expectation> Expect { get; set; } = new();
}

public sealed partial class ModelSection
{
    [Doc("Hugging Face checkpoint folder or hub id (e.g. Qwen/Qwen2-72B-Instruct)")]
    public string? Path { get; set; }
    [Doc("hub revision (commit) to pin when Path is a hub id")]
    public string? Revision { get; set; }
    [OneOf("float32", "bfloat16", "float16")] public string Dtype { get; set; } = "bfloat16";
    [Doc("where the local engine builds, trains and runs the model (sft, train, and sampling/evaluation with the local " +
         "backend): auto (the first CUDA GPU when TorchSharp's CUDA runtime sees one, else cpu), cpu, cuda or cuda:N")]
    public string Device { get; set; } = "auto";
    [RequiredKey, OneOf("alpaca", "deepseek-math", "qwen2-boxed", "plain"), Doc("prompt template of the model family")]
    public string Template { get; set; } = "";
    [Doc("tokenizer.json path when not inside the model folder")]
    public string? Tokenizer { get; set; }
    [Doc("create the start model from random weights instead of loading one (tiny experiments)")]
    public ModelInit? Init { get; set; }
}

public sealed partial class ModelInit
{
    [OneOf("qwen2", "llama")] public string Arch { get; set; } = "qwen2";
    [OneOf("tiny", "mini", "small")] public string Preset { get; set; } = "mini";
    [Doc("'byte' for the byte-level tokenizer, or a tokenizer.json path")]
    public string Tokenizer { get; set; } = "byte";
}

public sealed partial class DataSection
{
    // The file formats are StepDpo.Data's ProblemSources (a test checks the lists agree); synthetic and samples are read by the stages.
    [OneOf("synthetic", "samples", "gsm8k", "math", "math500", "jsonl", "stepdpo-pairs",
        "qwen25:gsm8k", "qwen25:minerva_math", "qwen25:aime24", "qwen25:amc23", "qwen25:olympiadbench", "qwen25:college_math",
        "qwen25:svamp", "qwen25:asdiv", "qwen25:gaokao2023en", "qwen25:sat_math", "qwen25:mawps", "qwen25:math500", "qwen25:math"),
     Doc("the problem pool for sampling")]
    public string Source { get; set; } = "synthetic";
    [Doc("file or folder of the pool (empty: the benchmark's bundled copy)")]
    public string? Path { get; set; }
    [Range(1, int.MaxValue)] public int? Limit { get; set; }
    [Doc("field mapping for generic JSONL: question, answer, id")]
    public Dictionary<string, string> Fields { get; set; } = new();
    public SyntheticSection Synthetic { get; set; } = new();
}

public sealed partial class SyntheticSection
{
    [Range(1, 10_000_000), Doc("problems with reference solutions for sft")] public int Train { get; set; } = 20000;
    [Range(0, 10_000_000), Doc("further training-split problems for sampling (never seen in sft)")] public int Pool { get; set; } = 2000;
    [Range(1, 1_000_000), Doc("held-out problems (a disjoint split) for evaluation")] public int Test { get; set; } = 500;
    [Range(1, 12)] public int MinSteps { get; set; } = 2;
    [Range(1, 12)] public int MaxSteps { get; set; } = 5;
    [Range(2, 1_000_000)] public int MaxStart { get; set; } = 30;
    [Range(2, 1_000_000)] public int MaxAddend { get; set; } = 20;
    [Range(2, 1_000_000)] public int MaxFactor { get; set; } = 9;
    [Range(2, 1_000_000)] public int MaxValue { get; set; } = 99;
    [Range(0, 1), Doc("share of the sft demonstrations with a taking-away step ('sells k') that are written with an error habit (k added instead of subtracted, the error carried to the answer), so the sft model makes this step error part of the time; 0 = clean demonstrations")]
    public double ErrorHabit { get; set; } = 0;
}

/// <summary>Optimiser settings shared by SFT and Step-DPO training.</summary>
public abstract partial class OptimSection
{
    [Range(0, 1)] public double LearningRate { get; set; } = 5e-7;
    [OneOf("cosine", "linear", "constant")] public string LrScheduler { get; set; } = "cosine";
    [Range(0, 1)] public double WarmupRatio { get; set; } = 0.1;
    [Range(1, 10_000)] public int Epochs { get; set; } = 1;
    [Range(1, 1_000_000), AllowsAuto, Doc("sequences per forward pass on one device; auto: the largest that fits the device by the memory plan (`stepdpo plan --memory`), with global_batch_size")]
    public int? PerDeviceBatchSize { get; set; } = 1;
    [Range(1, 1_000_000), Doc("with per_device_batch_size: auto, the examples per optimiser step to keep (micro-batch x accumulation x devices)")]
    public int? GlobalBatchSize { get; set; }
    [Range(1, 1_000_000)] public int GradientAccumulationSteps { get; set; } = 1;
    [Range(1, 1_000_000), Doc("data-parallel devices (global batch = per_device x accumulation x devices)")]
    public int NumDevices { get; set; } = 1;
    [Range(0, 10)] public double WeightDecay { get; set; } = 0;
    [Range(0, 1e9)] public double MaxGradNorm { get; set; } = 1.0;
    [Range(1, 1_000_000)] public int MaxLength { get; set; } = 1024;
    public bool GradientCheckpointing { get; set; } = true;
    [OneOf("float32", "bfloat16")] public string Dtype { get; set; } = "bfloat16";
    [Range(0, int.MaxValue), Doc("write a resumable checkpoint every N optimiser steps (0: only at the end)")]
    public int SaveSteps { get; set; } = 0;
}

public sealed partial class SftSection : OptimSection
{
    public bool Enabled { get; set; } = true;
    [Range(1, int.MaxValue), Doc("training examples drawn from the pool's reference solutions")]
    public int? Examples { get; set; }
}

public partial class EndpointSection
{
    [Doc("OpenAI-compatible server, e.g. http://127.0.0.1:8000 (vLLM, SGLang, TGI); backend openai only")]
    public string BaseUrl { get; set; } = "http://127.0.0.1:8000";
    [Doc("model name the server expects; backend openai only")]
    public string? Model { get; set; }
    [Doc("environment variable holding the API key (never the key itself)")]
    public string? ApiKeyEnv { get; set; }
    [Range(1, 4096), Doc("requests in flight at once")] public int Concurrency { get; set; } = 32;
    [Range(0.001, 86400)] public double TimeoutSeconds { get; set; } = 600;
    [Range(0, 100)] public int MaxRetries { get; set; } = 6;
}

/// <summary>evaluate asks for two models: the start model and the trained one, named (and possibly served) apart.</summary>
public sealed class EvaluateEndpointSection : EndpointSection
{
    [Doc("served name of the start model (backend openai); default: model.path")]
    public string? StartModel { get; set; }
    [Doc("served name of the trained model (backend openai): serve the train stage's final/ folder under this name")]
    public string? TrainedModel { get; set; }
    [Doc("server of the trained model when it is not base_url (backend openai)")]
    public string? TrainedBaseUrl { get; set; }

    public override IEnumerable<Violation> Validate()
    {
        foreach (var v in base.Validate()) yield return v;
        if (Model is not null)
            yield return new($"'{Model}' would name one served model for both the start and the trained evaluation (their " +
                "delta would be 0 by construction); set start_model and trained_model instead", "model");
        if (StartModel is not null && SameServedModel(StartModel) is { } same) yield return new(same, "trained_model", "start_model");
    }

    /// <summary>An error when the start and the trained model resolve to the same served model, else null.</summary>
    public string? SameServedModel(string defaultStartModel)
    {
        if (TrainedModel is null) return null;
        string start = StartModel ?? defaultStartModel;
        bool sameServer = TrainedBaseUrl is null || TrainedBaseUrl.TrimEnd('/') == BaseUrl.TrimEnd('/');
        return sameServer && start == TrainedModel
            ? $"start_model and trained_model both resolve to '{start}' on {BaseUrl}: the trained model " +
              "would be compared with itself (delta 0); serve the train stage's final/ under its own name"
            : null;
    }
}

/// <summary>A generation server the stages start themselves (sample, pairs, rollout verification and evaluate with
/// backend vllm or sglang): on a free loopback port, until /v1/models answers, stopped with its whole process group.</summary>
public sealed class ServeSection
{
    [Doc("the program and leading arguments that start the server, e.g. [/opt/venv/bin/vllm, serve] or [dotnet, stepdpo.dll, serve]; empty: `vllm serve` (vllm) or `python -m sglang.launch_server` (sglang)")]
    public List<string> Command { get; set; } = new();
    [Range(1, 1024), Doc("GPUs the model is split over (vLLM --tensor-parallel-size, SGLang --tp)")]
    public int TensorParallelSize { get; set; } = 1;
    [Range(1, 100_000_000), Doc("longest prompt + completion in tokens (vLLM --max-model-len, SGLang --context-length); empty: the model's own")]
    public int? MaxModelLen { get; set; }
    [Doc("further server arguments, passed as they are (e.g. [--gpu-memory-utilization, '0.9'])")]
    public List<string> ExtraArgs { get; set; } = new();
    [Doc("environment variables for the server (e.g. CUDA_VISIBLE_DEVICES); secrets belong in the environment, not here")]
    public Dictionary<string, string> Env { get; set; } = new();
    [Range(1, 86400), Doc("how long the server may take until /v1/models answers (loading a 72B model takes minutes)")]
    public double StartupTimeoutSeconds { get; set; } = 1800;
    [Range(0, 3600), Doc("after SIGTERM, how long the server's process group may take to exit before it is killed")]
    public double StopTimeoutSeconds { get; set; } = 30;
}

/// <summary>A section that generates text with a backend: sample (whose settings verify's rollouts and pairs use too)
/// and evaluate. A backend reads its settings through this, in either section.</summary>
public interface IGenerationSection
{
    string Backend { get; }
    EndpointSection Endpoint { get; }
    int BatchSize { get; }
}

public sealed partial class SampleSection : IGenerationSection
{
    [OneOf("local", "openai", "vllm", "sglang"), Doc("local: the TorchSharp engine; openai: a server you run (endpoint); vllm, sglang: a server the stage starts and stops (serve); also used by pairs and rollout verification")]
    public string Backend { get; set; } = "local";
    [Doc("client settings for openai, vllm and sglang (base_url and model: openai only)")]
    public EndpointSection Endpoint { get; set; } = new();
    [Range(1, 100_000), Doc("solutions per problem")] public int N { get; set; } = 2;
    [Range(0, 10)] public double Temperature { get; set; } = 0.8;
    [Range(0, 1)] public double TopP { get; set; } = 0.95;
    [Range(1, 1_000_000)] public int MaxNewTokens { get; set; } = 2048;
    [Range(1, 100_000), Doc("prompts per batch in the local engine")] public int BatchSize { get; set; } = 16;
}

public sealed partial class VerifySection
{
    [OneOf("rollout", "judge", "labels", "rule"), Doc("how the first wrong step is found")]
    public string Method { get; set; } = "rollout";
    [Range(1, 10_000), Doc("continuations per prefix for rollout")] public int Rollouts { get; set; } = 8;
    [Range(0, 10)] public double Temperature { get; set; } = 0.8;
    [Range(0, 1)] public double TopP { get; set; } = 0.95;
    [Range(1, 1_000_000)] public int MaxNewTokens { get; set; } = 2048;
    [Doc("judge model endpoint (method: judge), asked through chat completions (GPT-4o is chat-only)")]
    public EndpointSection Judge { get; set; } = new();
    [Range(0, 100)] public int JudgeRetries { get; set; } = 3;
}

public sealed partial class PairsSection
{
    [Doc("train on an existing pair data set (Step-DPO format) and skip sample/verify/pairs")]
    public string? From { get; set; }
    [OneOf("step", "full"), Doc("step: Step-DPO pairs (one step each); full: plain DPO pairs (whole solutions)")]
    public string Kind { get; set; } = "step";
    [Range(1, 100_000), Doc("rectification samples per located error")] public int Samples { get; set; } = 20;
    [Range(0, 10)] public double Temperature { get; set; } = 0.8;
    [Range(0, 1)] public double TopP { get; set; } = 0.95;
    [Range(1, 1_000_000)] public int MaxNewTokens { get; set; } = 2048;
    [Range(1, 100_000)] public int? MaxPairsPerProblem { get; set; }
}

public sealed partial class TrainSection : OptimSection
{
    [OneOf("local", "trl"), Doc("local: the TorchSharp trainer; trl: write and launch a TRL DPOTrainer job")]
    public string Backend { get; set; } = "local";
    [OneOf("sigmoid", "hinge", "ipo", "exo_pair", "nca_pair", "robust", "bco_pair", "sppo_hard", "aot", "aot_unpaired",
        "apo_zero", "apo_down", "discopop", "sft", "sigmoid_norm"),
     Doc("TRL's loss types, summed with loss_weights: [sigmoid] is DPO (Step-DPO on step pairs), [sigmoid, sft] is RPO; a single name is a list of one")]
    public List<string> Loss { get; set; } = new() { "sigmoid" };
    [Doc("weight of each loss in `loss`, in the same order (default: 1 each)")]
    public List<double> LossWeights { get; set; } = new();
    [Range(0, 100)] public double Beta { get; set; } = 0.4;
    [Range(0, 0.5), Doc("label flip probability of robust, epsilon of exo_pair, smoothing of aot and aot_unpaired")]
    public double LabelSmoothing { get; set; } = 0;
    [Range(1e-6, 100), Doc("temperature of discopop's log-ratio modulation")]
    public double DiscopopTau { get; set; } = 0.05;
    [Range(1, 1_000_000)] public int MaxPromptLength { get; set; } = 512;
    [Range(0, 0.5), Doc("share of pairs held out for evaluation during training")]
    public double EvalFraction { get; set; } = 0;
    [Range(0, int.MaxValue)] public int EvalSteps { get; set; } = 0;
    public LoraSection? Lora { get; set; }
    [OneOf("none", "optimizer", "all"), Doc("backend trl: DeepSpeed ZeRO-3 CPU offload of the optimizer states, or of the states and the parameters (all, as the released 72B scripts)")]
    public string Offload { get; set; } = "none";
    [Doc("backend trl: the TRL version (dialect) and the nodes of the job")]
    public TrlSection Trl { get; set; } = new();
}

public sealed class TrlSection : IValidatable
{
    [OneOf("0.8.5", "1.9.0"), Doc("0.8.5: the paper's pin (a shipped script builds DPOTrainer as the reference's train.py); 1.9.0: current TRL (DPOConfig + TrlParser)")]
    public string Version { get; set; } = "1.9.0";
    [Range(1, 4096), Doc("nodes; train.num_devices counts the GPUs of all of them")]
    public int Machines { get; set; } = 1;
    [Range(0, 4095), Doc("this node's rank (launch.sh also takes MACHINE_RANK from the environment)")]
    public int MachineRank { get; set; } = 0;
    [Doc("address of the rank-0 node (required with several machines)")]
    public string? MainProcessIp { get; set; }
    [Range(1, 65535)] public int MainProcessPort { get; set; } = 29500;

    public IEnumerable<Violation> Validate()
    {
        if (MachineRank >= Machines) yield return new($"machine_rank {MachineRank} must be below machines {Machines}", "machine_rank");
        if (Machines > 1 && string.IsNullOrWhiteSpace(MainProcessIp)) yield return new("several machines need main_process_ip (the rank-0 node's address)", "main_process_ip", "machines");
    }
}

public sealed partial class LoraSection
{
    [Range(1, 4096)] public int Rank { get; set; } = 16;
    [Range(0, 1e6)] public double Alpha { get; set; } = 32;
    [OneOf("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "lm_head"),
     Doc("the linear layers that get adapters (names of the Qwen2/Llama modules)")]
    public List<string> TargetModules { get; set; } = new() { "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj" };
    [Doc("false: final/ is the PEFT adapter (adapter_config.json, adapter_model.safetensors); true: final/ is the merged model and the adapter goes to adapter/")]
    public bool Merge { get; set; } = false;
}

public sealed partial class BenchmarkSpec
{
    [RequiredKey, Doc("name used in reports and expect keys (e.g. math, gsm8k, test)")]
    public string Name { get; set; } = "";
    [OneOf("synthetic", "gsm8k", "math", "math500", "jsonl", "stepdpo-pairs",
        "qwen25:gsm8k", "qwen25:minerva_math", "qwen25:aime24", "qwen25:amc23", "qwen25:olympiadbench", "qwen25:college_math",
        "qwen25:svamp", "qwen25:asdiv", "qwen25:gaokao2023en", "qwen25:sat_math", "qwen25:mawps", "qwen25:math500", "qwen25:math")]
    public string Source { get; set; } = "math500";
    public string? Path { get; set; }
    [Range(1, int.MaxValue)] public int? Limit { get; set; }
    [Doc("field names of a jsonl file: question, answer, solution, id, level, subject (e.g. {question: instruction, answer: output} for the reference's GSM8K/MATH test files)")]
    public Dictionary<string, string> Fields { get; set; } = new();
}

public sealed partial class EvaluateSection : IGenerationSection
{
    public List<BenchmarkSpec> Benchmarks { get; set; } = new();
    [OneOf("local", "openai", "vllm", "sglang"), Doc("local: the TorchSharp engine; openai: servers you run (endpoint.start_model, endpoint.trained_model); vllm, sglang: the stage serves the start model, then the trained one (serve)")]
    public string Backend { get; set; } = "local";
    public EvaluateEndpointSection Endpoint { get; set; } = new();
    [Range(1, 1_000_000)] public int MaxNewTokens { get; set; } = 2048;
    [Range(0, 10), Doc("0 = greedy, as in the paper")] public double Temperature { get; set; } = 0;
    [Range(0, 1)] public double TopP { get; set; } = 1;
    [Range(1, 10_000), Doc("samples per problem; n > 1 adds pass@k and majority vote")] public int N { get; set; } = 1;
    [OneOf("stepdpo", "hendrycks", "deepseekmath"), Doc("the grader behind `accuracy`; the summary also reports the other of stepdpo/deepseekmath (the paper's comparison) and how many answers they disagree on")]
    public string Grader { get; set; } = "stepdpo";
    [Range(1, 100_000)] public int BatchSize { get; set; } = 16;

    EndpointSection IGenerationSection.Endpoint => Endpoint;
}

public sealed class ReportSection
{
    public bool Plots { get; set; } = true;
    [Doc("a comparison experiment shown side by side (e.g. tiny-dpo next to tiny)")]
    public string? CompareWith { get; set; }
}

/// <summary>A threshold on one metric of the evaluation summary.</summary>
public sealed partial class Expectation
{
    public double? Min { get; set; }
    public double? Max { get; set; }
    [Doc("a published value, checked with tolerance")] public double? Value { get; set; }
    [Range(0, 1e9)] public double? Tolerance { get; set; }
}
