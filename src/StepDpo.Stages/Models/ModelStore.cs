using StepDpo.Core;
using StepDpo.Core.Graph;
using StepDpo.Core.Manifests;
using StepDpo.Data.Hub;
using StepDpo.Text;
using StepDpo.Torch.Checkpoints;
using StepDpo.Torch.Devices;
using StepDpo.Torch.Model;
using static TorchSharp.torch;

namespace StepDpo.Stages.Models;

/// <summary>Where the models of a run live, and how a stage loads one (weights + tokenizer).</summary>
public static class ModelStore
{
    /// <summary>The HF checkpoint folder inside the sft and train artifacts (the trainers write final/).</summary>
    public const string ModelFolder = "final";

    /// <summary>The start model: the final/ of <paramref name="trainedBy"/> (sft in the one-round pipeline) when that
    /// stage ran, else model.path: a local folder, or a Hub id (owner/name, at model.revision) resolved through the Hub
    /// cache, downloading what it lacks.</summary>
    public static string StartModelDir(StageContext ctx, ModelSection model, string trainedBy)
    {
        if (ctx.UpstreamDirs.TryGetValue(trainedBy, out var upstream)) return Path.Combine(upstream, ModelFolder);
        if (model.Init is not null)
            throw new StepDpoException("model.init creates the start model in the sft stage: add an sft section (or set model.path)");
        string dir = HubSnapshots.Resolve(model.Path!, ctx.Workspace.Root, HubRepoType.Model, HubSelection.Model, "model.path",
            model.Revision, ctx.Progress.Info);
        if (!Directory.Exists(dir)) throw new StepDpoException($"model.path '{model.Path}' is a file, not a checkpoint folder");
        return dir;
    }

    /// <summary>The model folder a stage did not write itself but that its key must follow: model.path (its Hub cache
    /// snapshot for a Hub id, never downloaded here) when no upstream stage trains the start model.</summary>
    public static IEnumerable<string> StartModelFiles(ModelSection model, Workspace ws) =>
        model.Path is { } path && HubSnapshots.ResolveLocal(path, ws.Root, HubRepoType.Model, HubSelection.Model, model.Revision) is { } dir
            ? [dir] : [];

    public static ScalarType DType(string name) => Checkpoint.ParseDType(name);

    /// <summary>model.device resolved: where every local model of the run is built (a GPU that cannot be used is a
    /// one-line error naming the reason).</summary>
    public static Device Device(string device)
    {
        ApplyThreadSetting();
        return DeviceSpec.Resolve(device);
    }

    /// <summary>Loads weights and tokenizer, the weights straight in <paramref name="dtype"/> on <paramref name="device"/>
    /// (model.device, resolved by <see cref="Device"/>).</summary>
    public static (CausalLM Model, ITokenizer Tokenizer) Load(string dir, string dtype, string device, string? tokenizerPath = null)
    {
        var model = Checkpoint.Load(dir, DType(dtype), Device(device));
        var tokenizer = Tokenizers.Load(tokenizerPath ?? dir);
        return (model, tokenizer);
    }

    /// <summary>STEPDPO_THREADS caps libtorch's threads: on a machine shared with other CPU-heavy work, fewer threads
    /// than cores avoids OpenMP spinning against the other processes (measured 10x slower at 2 threads on a loaded 2-core box).</summary>
    public static void ApplyThreadSetting()
    {
        if (StepDpo.Torch.Devices.CpuWorkers.Cap is int threads && TorchSharp.torch.get_num_threads() != threads)
            TorchSharp.torch.set_num_threads(threads);
    }

    /// <summary>A randomly initialised model of a preset, with its tokenizer files, saved as an HF folder.</summary>
    public static void CreateRandom(ModelInit init, long seed, string folder, string dtype)
    {
        string tokenizerDir = Path.Combine(Path.GetDirectoryName(folder)!, ".tokenizer");
        if (init.Tokenizer == "byte")
        {
            Directory.CreateDirectory(tokenizerDir);
            ByteTokenizer.WriteTokenizerJson(tokenizerDir);
        }
        else tokenizerDir = init.Tokenizer;
        var vocabulary = TokenizerVocabulary.Read(tokenizerDir);
        var config = Presets.Create(init.Arch, init.Preset, vocabulary.Size, vocabulary.BosId, vocabulary.EosIds);
        using var model = new CausalLM(config, DType(dtype));
        RandomInit.Apply(model, (ulong)seed);
        Checkpoint.Save(model, folder, tokenizerDir);
    }
}
