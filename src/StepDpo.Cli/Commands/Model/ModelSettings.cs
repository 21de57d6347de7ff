using System.ComponentModel;
using Spectre.Console.Cli;
using StepDpo.Core;
using StepDpo.Torch.Checkpoints;
using StepDpo.Torch.Model;
using static TorchSharp.torch;

namespace StepDpo.Cli.Commands.Model;

/// <summary>The options of the commands that run one model folder (generate, logprobs): which folder, in which dtype,
/// on which device, with how many CPU threads.</summary>
public abstract class ModelSettings : CommandSettings
{
    [CommandOption("--model <DIR>")] [Description("folder with config.json, safetensors and tokenizer.json")]
    public string Model { get; init; } = "";

    [CommandOption("--dtype <DTYPE>")] [Description("float32 (default) or bfloat16")]
    public string DType { get; init; } = "float32";

    [CommandOption("--device <DEVICE>")] [Description("auto (default: a CUDA GPU when one is usable), cpu, cuda or cuda:N")]
    public string Device { get; init; } = "auto";

    [CommandOption("--threads <N>")] [Description("libtorch CPU threads (default: libtorch's choice; 1 is faster on an oversubscribed machine)")]
    public int? Threads { get; init; }

    /// <summary>Loads the folder (config.json, safetensors, tokenizer.json) in the requested dtype onto the requested
    /// device, after setting the thread count.</summary>
    public (CausalLM Model, StepDpo.Text.ITokenizer Tokenizer) Load()
    {
        if (Threads is int threads)
        {
            if (threads < 1) throw new StepDpoException($"--threads must be at least 1 (got {threads})");
            set_num_threads(threads);
        }
        if (!Directory.Exists(Model)) throw new StepDpoException($"{Model}: model folder not found");
        var tokenizer = StepDpo.Text.Tokenizers.Load(Model);
        var model = Checkpoint.Load(Model, Checkpoint.ParseDType(DType), StepDpo.Torch.Devices.DeviceSpec.Resolve(Device));
        if (tokenizer.VocabSize > model.VocabSize)
            throw new StepDpoException($"{Model}: tokenizer has {tokenizer.VocabSize} tokens but config.json vocab_size is {model.VocabSize}");
        return (model, tokenizer);
    }
}
