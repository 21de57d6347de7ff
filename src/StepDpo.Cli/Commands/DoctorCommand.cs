using Spectre.Console;
using Spectre.Console.Cli;
using TorchSharp;
using static TorchSharp.torch;

namespace StepDpo.Cli.Commands;

/// <summary>`stepdpo doctor`: proves the native stack loads and says what hardware the stages will use.</summary>
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
            bool cuda = torch.cuda.is_available();
            facts.Add(("device", cuda ? $"cuda ({torch.cuda.device_count()} device(s))" : "cpu"));
            facts.Add(("threads", $"{torch.get_num_threads()} (of {Environment.ProcessorCount} cores)"));
            facts.Add(("bfloat16", Bf16Works()));
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

    /// <summary>A bf16 matmul must agree with fp32 to bf16 precision; also reports its speed ratio.</summary>
    static string Bf16Works()
    {
        using var scope = torch.NewDisposeScope();
        var g = new torch.Generator(7);
        var a = torch.randn(256, 256, generator: g);
        var b = torch.randn(256, 256, generator: g);
        var exact = a.matmul(b);
        var approx = a.to(ScalarType.BFloat16).matmul(b.to(ScalarType.BFloat16)).to(ScalarType.Float32);
        double rel = ((approx - exact).abs().max() / exact.abs().max()).item<float>();
        return rel < 2e-2 ? $"yes (max relative error {rel:F4})" : $"NO: bf16 matmul is off by {rel:F3}";
    }
}
