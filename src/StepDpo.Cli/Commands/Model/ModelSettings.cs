using StepDpo.Core;
using StepDpo.Torch.Checkpoints;
using StepDpo.Torch.Model;
using static TorchSharp.torch;

namespace StepDpo.Cli.Commands.Model;

static class ModelOptions
{
    public static void SetThreads(int threads)
    {
        if (threads < 1) throw new StepDpoException($"--threads must be at least 1 (got {threads})");
        set_num_threads(threads);
    }

    /// <summary>Loads a model folder (config.json, safetensors, tokenizer.json) in the requested dtype onto the
    /// requested device (auto, cpu, cuda, cuda:N).</summary>
    public static (CausalLM Model, StepDpo.Text.ITokenizer Tokenizer) Load(string folder, string dtype, string device)
    {
        if (!Directory.Exists(folder)) throw new StepDpoException($"{folder}: model folder not found");
        var type = Checkpoint.ParseDType(dtype);
        var tokenizer = StepDpo.Text.Tokenizers.Load(folder);
        var model = Checkpoint.Load(folder, type, StepDpo.Torch.Devices.DeviceSpec.Resolve(device));
        if (tokenizer.VocabSize > model.VocabSize)
            throw new StepDpoException($"{folder}: tokenizer has {tokenizer.VocabSize} tokens but config.json vocab_size is {model.VocabSize}");
        return (model, tokenizer);
    }
}
