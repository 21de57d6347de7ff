using System.Text.RegularExpressions;

namespace StepDpo.Core.Manifests;

// The rules that tie keys together, section by section: what the binder's per-key checks (type, range, one-of) cannot
// see. Each names the keys it is about, so the error points at the line to change (see Violation); texts name other
// keys of the same section by their short names.

public sealed partial class Manifest : IValidatable
{
    public IEnumerable<Violation> Validate()
    {
        if (Name != "" && !Regex.IsMatch(Name, "^[A-Za-z0-9][A-Za-z0-9._-]*$"))
            yield return new("may contain only letters, digits, '.', '_' and '-'", "name");
        foreach (var metric in Expect.Keys)
            if (MetricNames.Problem(metric, Evaluate) is { } why)
                yield return new($"names no metric the evaluation produces: {why}", $"expect.{metric}");

        bool sft = Sft is { Enabled: true };
        if (Model.Init is not null && !sft)
            yield return new("model.init creates the start model in the sft stage, and there is none: add an enabled sft section, or set model.path",
                "sft.enabled", "model.init");
        if (Data.Synthetic.ErrorHabit > 0 && !(sft && Data.Source == "synthetic"))
            yield return new("shapes the synthetic sft demonstrations, and " +
                (sft ? $"data.source is '{Data.Source}'" : "there is no sft stage") + ": set it to 0", "data.synthetic.error_habit");
        if (Sft is { Enabled: true, Examples: int examples } && Data.Source == "synthetic" && examples > Data.Synthetic.Train)
            yield return new($"{examples} is more than the {Data.Synthetic.Train} synthetic training problems (data.synthetic.train)",
                "sft.examples");

        // The start model's served name defaults to model.path; an explicit start_model is checked in its own section.
        if (Evaluate.Backend == "openai" && Evaluate.Endpoint.StartModel is null && Evaluate.Endpoint.SameServedModel(Model.Path ?? Name) is { } same)
            yield return new(same, "evaluate.endpoint.trained_model");

        if (Pairs.From is null) // sample and verify run
        {
            if (Verify.Method == "rule" && Data.Source != "synthetic")
                yield return new($"'rule' is the synthetic world's exact step checker, and data.source is '{Data.Source}' " +
                    "(use rollout, judge or labels)", "verify.method", "data.source");
            if (Verify.Method == "labels" && Data.Source != "samples")
                yield return new("'labels' reads the per-step labels of imported samples (data.source: samples), " +
                    $"and data.source is '{Data.Source}'", "verify.method", "data.source");
        }
        else if (Pairs.Kind == "full")
            yield return new("'full' builds whole-solution DPO pairs from samples, and pairs.from reads a Step-DPO data set " +
                "as it is: keep one of them", "pairs.kind", "pairs.from");
        if (Report.CompareWith is { } other && other == Name)
            yield return new("names this experiment itself", "report.compare_with");
    }
}

public sealed partial class ModelSection : IValidatable
{
    public IEnumerable<Violation> Validate()
    {
        if ((Path is null) == (Init is null))
            yield return new("set exactly one of model.path (a checkpoint) or model.init (random initialisation)", "path", "init");
        if (Init is not null && Revision is not null)
            yield return new("pins a hub revision of model.path, and model.init loads nothing", "revision");
        if (Init is not null && Tokenizer is not null)
            yield return new("model.init brings its own tokenizer (model.init.tokenizer)", "tokenizer");
        if (!System.Text.RegularExpressions.Regex.IsMatch(Device, "^(auto|cpu|cuda(:[0-9]{1,3})?)$"))
            yield return new($"'{Device}' must be auto, cpu, cuda or cuda:N", "device");
    }
}

public sealed partial class DataSection : IValidatable
{
    public IEnumerable<Violation> Validate()
    {
        if (Source == "synthetic" && Path is not null)
            yield return new("the synthetic source is generated from the seed and reads no file", "path");
        if (Source == "samples" && Path is null)
            yield return new("'samples' imports a samples file: set data.path", "source");
        if (Fields.Count > 0 && Source != "jsonl")
            yield return new($"maps the fields of generic JSONL, and data.source is '{Source}'", "fields");
    }
}

public sealed partial class SyntheticSection : IValidatable
{
    public IEnumerable<Violation> Validate()
    {
        if (MinSteps > MaxSteps)
            yield return new($"min_steps ({MinSteps}) is above max_steps ({MaxSteps})", "min_steps", "max_steps");
        if (MaxValue < Math.Max(MaxStart, 2 * MaxFactor))
            yield return new($"{MaxValue} must be at least max_start ({MaxStart}) and twice max_factor ({2 * MaxFactor}), or no problem fits",
                "max_value", "max_start", "max_factor");
    }
}

public abstract partial class OptimSection : IValidatable
{
    public virtual IEnumerable<Violation> Validate()
    {
        if (LearningRate == 0) yield return new("0 never changes the weights: it must be above 0", "learning_rate");
        if (PerDeviceBatchSize is null && GlobalBatchSize is null)
            yield return new("auto needs global_batch_size (the examples per optimiser step to keep)", "per_device_batch_size");
        if (PerDeviceBatchSize is not null && GlobalBatchSize is not null)
            yield return new("is only read with per_device_batch_size: auto (else the global batch is per_device_batch_size x " +
                "gradient_accumulation_steps x num_devices)", "global_batch_size");
        if (GlobalBatchSize is int global && global % NumDevices != 0)
            yield return new($"{global} is not a multiple of num_devices {NumDevices}", "global_batch_size", "num_devices");
    }
}

public sealed partial class TrainSection
{
    public override IEnumerable<Violation> Validate()
    {
        foreach (var v in base.Validate()) yield return v;
        if (MaxPromptLength >= MaxLength)
            yield return new($"{MaxPromptLength} leaves the completion no tokens: it must be below max_length ({MaxLength})",
                "max_prompt_length", "max_length");
        if (Beta == 0) yield return new("0 gives every pair the same loss (log 2): it must be above 0", "beta");
        foreach (var v in TrainLosses.Problems(Loss, LossWeights, LabelSmoothing)) yield return v;
        if (EvalSteps > 0 && EvalFraction == 0)
            yield return new("evaluates on held-out pairs, and eval_fraction is 0 (none are held out)", "eval_steps", "eval_fraction");
    }
}

public sealed partial class LoraSection : IValidatable
{
    public IEnumerable<Violation> Validate()
    {
        if (TargetModules.Count == 0) yield return new("names no module: the adapters would train nothing", "target_modules");
        for (int i = 0; i < TargetModules.Count; i++)
            if (TargetModules.IndexOf(TargetModules[i]) < i) yield return new($"'{TargetModules[i]}' is listed twice", $"target_modules[{i}]");
        if (Alpha == 0) yield return new("0 scales the adapters to nothing: it must be above 0", "alpha");
    }
}

public partial class EndpointSection : IValidatable
{
    public virtual IEnumerable<Violation> Validate()
    {
        if (!Uri.TryCreate(BaseUrl, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            yield return new($"'{BaseUrl}' is not an http(s) URL (e.g. http://127.0.0.1:8000)", "base_url");
        // Not echoed: a value that is not a variable name may be the key itself.
        if (ApiKeyEnv is not null && !Regex.IsMatch(ApiKeyEnv, "^[A-Za-z_][A-Za-z0-9_]*$"))
            yield return new("names the environment variable that holds the key (e.g. OPENAI_API_KEY), never the key itself", "api_key_env");
    }
}

/// <summary>Rules shared by the sections that sample.</summary>
static class Sampling
{
    public static IEnumerable<Violation> Check(double temperature, double topP, int n, string nKey)
    {
        if (topP == 0 && temperature > 0)
            yield return new("0 keeps no token to sample from; for greedy decoding set temperature: 0", "top_p");
        if (temperature == 0 && n > 1)
            yield return new($"at temperature 0 the {n} samples are one greedy sample {n} times: raise temperature or set {nKey}: 1",
                "temperature", nKey);
    }
}

public sealed partial class SampleSection : IValidatable
{
    public IEnumerable<Violation> Validate() => Sampling.Check(Temperature, TopP, N, "n");
}

public sealed partial class VerifySection : IValidatable
{
    public IEnumerable<Violation> Validate() =>
        Method == "rollout" ? Sampling.Check(Temperature, TopP, Rollouts, "rollouts") : Enumerable.Empty<Violation>();
}

public sealed partial class PairsSection : IValidatable
{
    public IEnumerable<Violation> Validate() =>
        From is null && Kind == "step" ? Sampling.Check(Temperature, TopP, Samples, "samples") : Enumerable.Empty<Violation>();
}

public sealed partial class EvaluateSection : IValidatable
{
    public IEnumerable<Violation> Validate()
    {
        foreach (var v in Sampling.Check(Temperature, TopP, N, "n")) yield return v;
        // Checked when the section is written: manifests without one (tests, sketches) evaluate nothing on purpose.
        if (Benchmarks.Count == 0) yield return new("is empty: nothing to evaluate (e.g. `- {name: test, source: synthetic}`)", "benchmarks");
        for (int i = 0; i < Benchmarks.Count; i++)
            if (Benchmarks.FindIndex(b => b.Name == Benchmarks[i].Name) is int first && first < i)
                yield return new($"'{Benchmarks[i].Name}' is already the name of benchmarks[{first}]; metric names need unique names",
                    $"benchmarks[{i}].name");
    }
}

public sealed partial class BenchmarkSpec : IValidatable
{
    public IEnumerable<Violation> Validate()
    {
        if (Name.Contains('.') || Name.Any(char.IsWhiteSpace))
            yield return new("may not contain '.' or spaces: it is the middle part of metric names such as trained.NAME.accuracy", "name");
        if (Source == "synthetic" && Path is not null)
            yield return new("a synthetic benchmark is generated from the seed and reads no file", "path");
    }
}

public sealed partial class Expectation : IValidatable
{
    public IEnumerable<Violation> Validate()
    {
        if (Min is null && Max is null && Value is null) yield return new("an expectation needs min, max or value");
        if (Value is not null && Tolerance is null) yield return new("value needs a tolerance", "value");
        if (Tolerance is not null && Value is null) yield return new("tolerance needs a value", "tolerance");
        if (Min > Max) yield return new($"min ({Min}) is above max ({Max}): nothing can pass", "min", "max");
    }
}
