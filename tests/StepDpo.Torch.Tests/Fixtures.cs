using StepDpo.Torch.Checkpoints;
using static TorchSharp.torch;

namespace StepDpo.Torch.Tests;

/// <summary>Paths and expected tensors of the reference fixtures written by Fixtures/make_reference.py.</summary>
public static class Fixtures
{
    public static readonly string[] Models = ["qwen2-micro", "llama-micro"];
    public static readonly string[] Layouts = ["causal", "padded", "prefix"];

    public static string Folder(string model) => Path.Combine(AppContext.BaseDirectory, "Fixtures", model);

    public static Tensor Expected(string model, string name)
    {
        using var reader = new SafeTensorsReader(Path.Combine(Folder(model), "expected.safetensors"));
        return reader.Read(name);
    }

    public static double MaxAbsDiff(Tensor a, Tensor b)
    {
        using var diff = (a.to(ScalarType.Float64) - b.to(ScalarType.Float64)).abs().max();
        return diff.item<double>();
    }

    public static string TempFolder()
    {
        var path = Path.Combine(Path.GetTempPath(), "stepdpo-torch-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        return path;
    }
}
