// The GPU check: `./build.sh GpuCheck` (publishes this app into artifacts/gpu-check/ and runs it), or on a CUDA machine
// without .NET: copy artifacts/gpu-check/ there and run ./run.sh (it points TorchSharp at PyTorch's libtorch).
//   1. placement: every hot path (SFT, Step-DPO in both layouts with the reference pass, LoRA, bf16, generation with the
//      KV cache, scoring, saving) on --device, compared with the same run on the CPU;
//   2. a Step-DPO step with Qwen2-0.5B's shapes (random weights): tokens/s, model FLOPs utilisation, peak memory.
// Options: --device cuda|cuda:N|cpu (default cuda), --small (a 2-layer, 8k-vocabulary model of the same width: for CPUs),
// --steps N, --pairs N (per step), --prompt N, --completion N, --peak-tflops X, --checkpointing, --only placement|bench.
// Exit code: the number of failed checks.
using StepDpo.GpuCheck;
using StepDpo.Torch.Devices;
using TorchSharp;

string? Option(string name) => Array.IndexOf(args, name) is int i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
var device = DeviceSpec.Resolve(Option("--device") ?? "cuda");
string only = Option("--only") ?? "all";
Console.WriteLine($"StepDpo GPU check on {device}: TorchSharp {typeof(torch).Assembly.GetName().Version?.ToString(3)}, libtorch {torch.__version__}, " +
                  $"CUDA runtime loaded: {DeviceSpec.CudaRuntimeLoaded()}, driver: {CudaDriver.DriverVersion() ?? "none"}");
foreach (var d in CudaDriver.Devices())
    Console.WriteLine($"  cuda:{d.Index} {d.Name}, compute capability {d.Major}.{d.Minor}, {CudaDriver.Gib(d.TotalBytes)}");

int failures = 0;
if (only is "all" or "placement") failures += HotPaths.Run(device, Console.WriteLine);
if (only is "all" or "bench")
{
    var options = new BenchOptions
    {
        Small = args.Contains("--small"),
        Steps = int.Parse(Option("--steps") ?? "6"),
        Pairs = int.Parse(Option("--pairs") ?? (args.Contains("--small") ? "2" : "8")),
        Prompt = int.Parse(Option("--prompt") ?? (args.Contains("--small") ? "96" : "512")),
        Completion = int.Parse(Option("--completion") ?? (args.Contains("--small") ? "16" : "64")),
        PeakTflops = Option("--peak-tflops") is { } p ? double.Parse(p, System.Globalization.CultureInfo.InvariantCulture) : null,
        Checkpointing = args.Contains("--checkpointing"),
    };
    failures += StepDpoBench.Run(device, options, Console.WriteLine);
}
Console.WriteLine(failures == 0 ? "GPU check: all passed" : $"GPU check: {failures} FAILED");
return failures;
