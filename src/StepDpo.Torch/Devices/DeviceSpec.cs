using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using StepDpo.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace StepDpo.Torch.Devices;

/// <summary>
/// The `device` setting (manifest key model.device, CLI option --device): auto | cpu | cuda | cuda:N. A run resolves it
/// once into the TorchSharp device that the model is built on and every tensor of its hot paths is created on.
/// auto is cuda:0 when TorchSharp's CUDA runtime is loaded and sees a GPU, else cpu.
/// </summary>
public static partial class DeviceSpec
{
    public const string Choices = "auto, cpu, cuda or cuda:N";

    [GeneratedRegex("^(auto|cpu|cuda(:[0-9]{1,3})?)$")]
    private static partial Regex Syntax();

    public static bool IsValid(string text) => Syntax().IsMatch(text);

    /// <summary>"cpu" or "cuda": what the cache key of a stage that computes records. Results depend on the kind of
    /// device, not on which of several identical GPUs ran them; auto is resolved (it asks libtorch whether CUDA works).</summary>
    public static string Kind(string text)
    {
        Check(text);
        if (text == "auto") return CudaUsable() ? "cuda" : "cpu";
        return text.StartsWith("cuda", StringComparison.Ordinal) ? "cuda" : "cpu";
    }

    /// <summary>The device for <paramref name="text"/>; asking for a GPU that cannot be used is a one-line error that
    /// says why (CPU build of TorchSharp, no GPU visible, index out of range).</summary>
    public static Device Resolve(string text)
    {
        Check(text);
        if (text == "cpu" || text == "auto" && !CudaUsable()) return CPU;
        int index = text.Length > 5 && text[4] == ':' ? int.Parse(text[5..]) : 0;
        if (!CudaRuntimeLoaded())
            throw new StepDpoException($"device '{text}': this build carries TorchSharp's CPU runtime (libtorch without CUDA); " +
                "build with `./build.sh --torch cuda` or run with a CUDA libtorch (tests/StepDpo.GpuCheck/run.sh), or set the device to cpu");
        int count = cuda.device_count();
        if (!cuda.is_available() || count == 0)
            throw new StepDpoException($"device '{text}': CUDA libtorch is loaded but sees no GPU (driver missing, or " +
                "CUDA_VISIBLE_DEVICES hides them; `nvidia-smi` should list one)");
        if (index >= count)
            throw new StepDpoException($"device '{text}': only {count} CUDA device(s) are visible (cuda:0..cuda:{count - 1})");
        return new Device(DeviceType.CUDA, index);
    }

    /// <summary>Whether the loaded libtorch has CUDA kernels and a GPU to run them on (asked once per process).</summary>
    public static bool CudaUsable() => CudaUsableOnce.Value;

    static readonly Lazy<bool> CudaUsableOnce = new(() =>
    {
        // A libtorch that does not load at all has no CUDA either; planning (cache keys) must not fail on that.
        try { return CudaRuntimeLoaded() && cuda.is_available() && cuda.device_count() > 0; }
        catch (Exception e) when (e is TypeInitializationException or DllNotFoundException or NotSupportedException) { return false; }
    });

    /// <summary>Whether libtorch_cuda can be loaded the way TorchSharp loads it (next to the app, or on the library
    /// path): false with the TorchSharp-cpu package, whose libtorch has no CUDA kernels.</summary>
    public static bool CudaRuntimeLoaded() =>
        NativeLibrary.TryLoad("torch_cuda", typeof(torch).Assembly, null, out _);

    static void Check(string text)
    {
        if (!IsValid(text)) throw new StepDpoException($"device '{text}' is not one of {Choices}");
    }
}
