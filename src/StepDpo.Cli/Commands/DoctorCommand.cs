using Spectre.Console;
using Spectre.Console.Cli;
using StepDpo.Torch.Devices;
using TorchSharp;
using static TorchSharp.torch;

namespace StepDpo.Cli.Commands;

/// <summary>`stepdpo doctor`: proves the native stack loads and says what hardware the stages will use (model.device: auto).</summary>
public sealed class DoctorCommand : Command<DoctorCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--json")] public bool Json { get; set; }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken ct)
    {
        var facts = new List<(string, string)>
        {
            ("stepdpo", ToolInfo.Version),
            ("TorchSharp", typeof(torch).Assembly.GetName().Version?.ToString(3) ?? "?"),
        };
        bool ok = true;
        try
        {
            facts.Add(("libtorch", torch.__version__));
            facts.AddRange(DeviceFacts());
            facts.Add(("threads", $"{torch.get_num_threads()} (of {Environment.ProcessorCount} cores)"));
            facts.Add(("openmp wait policy", CpuRuntime.WaitPolicy ?? "unset (libgomp spins)"));
            facts.Add(("malloc", CpuRuntime.MallocKeepsMemory ? "keeps freed memory (mmap threshold 1 GiB, no trim)" : "defaults"));
            facts.Add(("bfloat16", Bf16Works(CPU)));
            if (DeviceSpec.CudaUsable())
                for (int i = 0; i < cuda.device_count(); i++) facts.Add(($"bfloat16 cuda:{i}", Bf16Works(new Device(DeviceType.CUDA, i))));
        }
        catch (Exception e)
        {
            ok = false;
            facts.Add(("libtorch", $"FAILED to load: {e.GetBaseException().Message}"));
        }
        facts.Add(("dotnet", Environment.Version.ToString()));
        facts.Add(("os", System.Runtime.InteropServices.RuntimeInformation.OSDescription));

        if (settings.Json)
            Console.Out.WriteLine(System.Text.Json.JsonSerializer.Serialize(facts.ToDictionary(f => f.Item1, f => f.Item2)));
        else
        {
            var grid = new Grid().AddColumn().AddColumn();
            foreach (var (k, v) in facts) grid.AddRow($"[bold]{k}[/]", Markup.Escape(v));
            AnsiConsole.Write(grid);
        }
        return ok ? 0 : 1;
    }

    /// <summary>What the run's device setting can use: the runtime TorchSharp loaded, CUDA, each GPU with its name, compute
    /// capability and memory (from the CUDA driver: TorchSharp 0.107 exposes only is_available and device_count), and
    /// what `auto` resolves to.</summary>
    static IEnumerable<(string, string)> DeviceFacts()
    {
        bool runtime = DeviceSpec.CudaRuntimeLoaded();
        yield return ("torch runtime", runtime ? "cuda (libtorch_cuda loaded)" : "cpu (TorchSharp-cpu: libtorch without CUDA)");
        int count = runtime && cuda.is_available() ? cuda.device_count() : 0;
        yield return ("cuda", count > 0 ? $"available, {count} device(s)"
            : runtime ? "not available: CUDA libtorch is loaded but sees no GPU" : "not available: this build has no CUDA runtime");
        yield return ("cuda driver", CudaDriver.DriverVersion() is { } v ? v : "none (no libcuda.so.1)");
        foreach (var d in CudaDriver.Devices())
            yield return ($"cuda:{d.Index}", $"{d.Name}, compute capability {d.Major}.{d.Minor}, {CudaDriver.Gib(d.TotalBytes)}" +
                (d.FreeBytes is long free ? $" ({CudaDriver.Gib(free)} free)" : "") +
                $", bf16 tensor cores: {(d.NativeBf16 ? "yes" : "no (compute capability < 8.0)")}");
        yield return ("device", $"{DeviceSpec.Resolve("auto")} (what model.device auto resolves to)");
        yield return ("not exposed", "TorchSharp 0.107 gives no allocator statistics (memory_allocated, max_memory_allocated) " +
            "and no device properties; names and memory above come from the CUDA driver");
    }

    /// <summary>A bf16 matmul on <paramref name="device"/> must agree with fp32 to bf16 precision.</summary>
    static string Bf16Works(Device device)
    {
        using var scope = torch.NewDisposeScope();
        var g = new torch.Generator(7);
        var a = torch.randn(256, 256, generator: g).to(device);
        var b = torch.randn(256, 256, generator: g).to(device);
        var exact = a.matmul(b);
        var approx = a.to(ScalarType.BFloat16).matmul(b.to(ScalarType.BFloat16)).to(ScalarType.Float32);
        double rel = ((approx - exact).abs().max() / exact.abs().max()).item<float>();
        return rel < 2e-2 ? $"yes (max relative error {rel:F4})" : $"NO: bf16 matmul is off by {rel:F3}";
    }
}
