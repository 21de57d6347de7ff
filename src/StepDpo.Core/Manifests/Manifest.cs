namespace StepDpo.Core.Manifests;

/// <summary>
/// One experiment, as written in experiments/NAME.yaml (after `extends` and `--set`). Keys are the snake_case
/// names of these properties. Each stage reads its own section; its cache key hashes exactly what it reads.
/// </summary>
public sealed class Manifest : IValidatable
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
    public VerifySection Verify { get; set; } = new();
    public PairsSection Pairs { get; set; } = new();
    public TrainSection Train { get; set; } = new();
    public EvaluateSection Evaluate { get; set; } = new();
    public ReportSection Report { get; set; } = new();
    [Doc("metric thresholds, e.g. trained.math.accuracy: {min: 0.70}")]
    public Dictionary<string, Expectation> Expect { get; set; } = new();

    public IEnumerable<string> Validate()
    {
        if (Name != "" && !System.Text.RegularExpressions.Regex.IsMatch(Name, "^[A-Za-z0-9][A-Za-z0-9._-]*$"))
            yield return $"name '{Name}' may contain only letters, digits, '.', '_' and '-'";
        foreach (var (metric, _) in Expect)
            if (metric.Split('.').Length < 3)
                yield return $"expect: '{metric}' should be MODEL.BENCHMARK.METRIC (e.g. trained.math.accuracy, delta.gsm8k.accuracy)";
    }
}

public sealed class ModelSection : IValidatable
{
    [Doc("Hugging Face checkpoint folder or hub id (e.g. Qwen/Qwen2-72B-Instruct)")]
    public string? Path { get; set; }
    [Doc("hub revision (commit) to pin when Path is a hub id")]
    public string? Revision { get; set; }
    [OneOf("float32", "bfloat16", "float16")] public string Dtype { get; set; } = "bfloat16";
    [RequiredKey, OneOf("alpaca", "deepseek-math", "qwen2-boxed", "plain"), Doc("prompt template of the model family")]
    public string Template { get; set; } = "";
    [Doc("tokenizer.json path when not inside the model folder")]
    public string? Tokenizer { get; set; }
    [Doc("create the start model from random weights instead of loading one (tiny experiments)")]
    public ModelInit? Init { get; set; }

    public IEnumerable<string> Validate()
    {
        if ((Path is null) == (Init is null)) yield return "set exactly one of model.path (a checkpoint) or model.init (random initialisation)";
    }
}

public sealed class ModelInit
{
    [OneOf("qwen2", "llama")] public string Arch { get; set; } = "qwen2";
    [OneOf("tiny", "mini", "small")] public string Preset { get; set; } = "mini";
    [Doc("'byte' for the byte-level tokenizer, or a tokenizer.json path")]
    public string Tokenizer { get; set; } = "byte";
}

public sealed class DataSection
{
    [OneOf("synthetic", "gsm8k", "math", "math500", "jsonl", "stepdpo-pairs", "samples"), Doc("the problem pool for sampling")]
    public string Source { get; set; } = "synthetic";
    [Doc("file or folder of the pool (empty: the benchmark's bundled copy)")]
    public string? Path { get; set; }
    [Range(1, int.MaxValue)] public int? Limit { get; set; }
    [Doc("field mapping for generic JSONL: question, answer, id")]
    public Dictionary<string, string> Fields { get; set; } = new();
    public SyntheticSection Synthetic { get; set; } = new();
}

public sealed class SyntheticSection
{
    [Range(1, 10_000_000), Doc("problems with reference solutions for sft")] public int Train { get; set; } = 20000;
    [Range(0, 10_000_000), Doc("further training-split problems for sampling (never seen in sft)")] public int Pool { get; set; } = 2000;
    [Range(1, 1_000_000), Doc("held-out problems (a disjoint split) for evaluation")] public int Test { get; set; } = 500;
    [Range(1, 12)] public int MinSteps { get; set; } = 2;
    [Range(1, 12)] public int MaxSteps { get; set; } = 5;
    [Range(1, 1_000_000)] public int MaxStart { get; set; } = 30;
    [Range(1, 1_000_000)] public int MaxAddend { get; set; } = 20;
    [Range(2, 1_000_000)] public int MaxFactor { get; set; } = 9;
    [Range(2, 1_000_000)] public int MaxValue { get; set; } = 99;
    [Range(0, 1), Doc("share of the sft demonstrations with a taking-away step ('sells k') that are written with an error habit (k added instead of subtracted, the error carried to the answer), so the sft model makes this step error part of the time; 0 = clean demonstrations")]
    public double ErrorHabit { get; set; } = 0;
}

/// <summary>Optimiser settings shared by SFT and Step-DPO training.</summary>
public abstract class OptimSection
{
    [Range(0, 1)] public double LearningRate { get; set; } = 5e-7;
    [OneOf("cosine", "linear", "constant")] public string LrScheduler { get; set; } = "cosine";
    [Range(0, 1)] public double WarmupRatio { get; set; } = 0.1;
    [Range(0, 10_000)] public int Epochs { get; set; } = 1;
    [Range(1, 1_000_000), Doc("sequences per forward pass on one device")]
    public int PerDeviceBatchSize { get; set; } = 1;
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
    [OneOf("auto", "cpu", "cuda")] public string Device { get; set; } = "auto";
}

public sealed class SftSection : OptimSection
{
    public bool Enabled { get; set; } = true;
    [Range(1, int.MaxValue), Doc("training examples drawn from the pool's reference solutions")]
    public int? Examples { get; set; }
}

public sealed class EndpointSection
{
    [Doc("OpenAI-compatible server, e.g. http://127.0.0.1:8000 (vLLM, SGLang, TGI)")]
    public string BaseUrl { get; set; } = "http://127.0.0.1:8000";
    [Doc("model name the server expects")]
    public string? Model { get; set; }
    [Doc("environment variable holding the API key (never the key itself)")]
    public string? ApiKeyEnv { get; set; }
    [Range(1, 4096)] public int Concurrency { get; set; } = 32;
    [Range(0.001, 86400)] public double TimeoutSeconds { get; set; } = 600;
    [Range(0, 100)] public int MaxRetries { get; set; } = 6;
}

public sealed class SampleSection
{
    [OneOf("local", "openai")] public string Backend { get; set; } = "local";
    public EndpointSection Endpoint { get; set; } = new();
    [Range(1, 100_000), Doc("solutions per problem")] public int N { get; set; } = 2;
    [Range(0, 10)] public double Temperature { get; set; } = 0.8;
    [Range(0, 1)] public double TopP { get; set; } = 0.95;
    [Range(1, 1_000_000)] public int MaxNewTokens { get; set; } = 2048;
    [Range(1, 100_000), Doc("prompts per batch in the local engine")] public int BatchSize { get; set; } = 16;
}

public sealed class VerifySection
{
    [OneOf("rollout", "judge", "labels", "rule"), Doc("how the first wrong step is found")]
    public string Method { get; set; } = "rollout";
    [Range(1, 10_000), Doc("continuations per prefix for rollout")] public int Rollouts { get; set; } = 8;
    [Range(0, 10)] public double Temperature { get; set; } = 0.8;
    [Range(0, 1)] public double TopP { get; set; } = 0.95;
    [Range(1, 1_000_000)] public int MaxNewTokens { get; set; } = 2048;
    [Doc("judge model endpoint (method: judge)")] public EndpointSection Judge { get; set; } = new();
    [Range(0, 100)] public int JudgeRetries { get; set; } = 3;
}

public sealed class PairsSection
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

public sealed class TrainSection : OptimSection
{
    [OneOf("local", "trl"), Doc("local: the TorchSharp trainer; trl: write and launch a TRL DPOTrainer job")]
    public string Backend { get; set; } = "local";
    [OneOf("sigmoid", "ipo", "hinge", "robust")] public string Loss { get; set; } = "sigmoid";
    [Range(0, 100)] public double Beta { get; set; } = 0.4;
    [Range(0, 0.5)] public double LabelSmoothing { get; set; } = 0;
    [Range(0, 100), Doc("weight of an SFT term on the chosen completion (RPO); 0 = off")]
    public double RpoAlpha { get; set; } = 0;
    [Range(1, 1_000_000)] public int MaxPromptLength { get; set; } = 512;
    [Range(0, 0.5), Doc("share of pairs held out for evaluation during training")]
    public double EvalFraction { get; set; } = 0;
    [Range(0, int.MaxValue)] public int EvalSteps { get; set; } = 0;
    public LoraSection? Lora { get; set; }
}

public sealed class LoraSection
{
    [Range(1, 4096)] public int Rank { get; set; } = 16;
    [Range(0, 1e6)] public double Alpha { get; set; } = 32;
    public List<string> TargetModules { get; set; } = new() { "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj" };
}

public sealed class BenchmarkSpec
{
    [RequiredKey, Doc("name used in reports and expect keys (e.g. math, gsm8k, test)")]
    public string Name { get; set; } = "";
    [OneOf("synthetic", "gsm8k", "math", "math500", "jsonl",
        "qwen25:gsm8k", "qwen25:minerva_math", "qwen25:aime24", "qwen25:amc23", "qwen25:olympiadbench", "qwen25:college_math",
        "qwen25:svamp", "qwen25:asdiv", "qwen25:gaokao2023en", "qwen25:sat_math", "qwen25:mawps")]
    public string Source { get; set; } = "math500";
    public string? Path { get; set; }
    [Range(1, int.MaxValue)] public int? Limit { get; set; }
}

public sealed class EvaluateSection
{
    public List<BenchmarkSpec> Benchmarks { get; set; } = new();
    [OneOf("local", "openai")] public string Backend { get; set; } = "local";
    public EndpointSection Endpoint { get; set; } = new();
    [Range(1, 1_000_000)] public int MaxNewTokens { get; set; } = 2048;
    [Range(0, 10), Doc("0 = greedy, as in the paper")] public double Temperature { get; set; } = 0;
    [Range(0, 1)] public double TopP { get; set; } = 1;
    [Range(1, 10_000), Doc("samples per problem; n > 1 adds pass@k and majority vote")] public int N { get; set; } = 1;
    [OneOf("stepdpo", "hendrycks")] public string Grader { get; set; } = "stepdpo";
    [Range(1, 100_000)] public int BatchSize { get; set; } = 16;
}

public sealed class ReportSection
{
    public bool Plots { get; set; } = true;
    [Doc("a comparison experiment shown side by side (e.g. tiny-dpo next to tiny)")]
    public string? CompareWith { get; set; }
}

/// <summary>A threshold on one metric of the evaluation summary.</summary>
public sealed class Expectation : IValidatable
{
    public double? Min { get; set; }
    public double? Max { get; set; }
    [Doc("a published value, checked with tolerance")] public double? Value { get; set; }
    [Range(0, 1e9)] public double? Tolerance { get; set; }

    public IEnumerable<string> Validate()
    {
        if (Min is null && Max is null && Value is null) yield return "an expectation needs min, max or value";
        if (Value is not null && Tolerance is null) yield return "value needs a tolerance";
    }
}
