using System.Text.Json;
using Spectre.Console;
using Spectre.Console.Cli;
using StepDpo.Core.Graph;
using StepDpo.Stages;
using StepDpo.Stages.Models;

namespace StepDpo.Cli.Commands;

/// <summary>`stepdpo plan`: every stage as cached / stale / missing / disabled, with the reason; with --memory the memory
/// each stage needs on a device and what fits (MemoryReport).</summary>
public sealed class PlanCommand : Command<PlanCommand.Settings>
{
    public sealed class Settings : ExperimentSettings
    {
        [System.ComponentModel.Description("machine-readable: {\"experiment\", \"stages\": [[{\"name\", \"key\", \"status\", \"dir\", ...}]]}")]
        [CommandOption("--json")] public bool Json { get; set; }

        [CommandOption("--until <STAGE>")] public string? Until { get; set; }

        [System.ComponentModel.Description("memory per stage (weights, gradients, optimizer states, activations) and what fits the device")]
        [CommandOption("--memory")] public bool Memory { get; set; }

        [System.ComponentModel.Description("with --memory: cpu, cuda or cuda:N (default: train.device; auto is cuda when nvidia-smi finds one)")]
        [CommandOption("--device <DEVICE>")] public string? Device { get; set; }

        [System.ComponentModel.Description("with --memory: the device's memory in GB (10^9 bytes), e.g. 141 for an H200 (default: asked from the machine)")]
        [CommandOption("--device-memory <GB>")] public double? DeviceMemoryGb { get; set; }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken ct)
    {
        var resolved = settings.Load();
        if (settings.Memory)
        {
            Console.Out.Write(Memory(settings, resolved.Manifest));
            return 0;
        }
        var plan = Pipeline.Graph(settings.Workspace()).Plan(resolved, settings.Until);
        if (settings.Json)
        {
            Console.Out.WriteLine(ToJson(plan));
            return 0;
        }
        var table = new Table().Title($"plan for [bold]{Markup.Escape(plan.Experiment)}[/]")
            .AddColumns("stage", "status", "key", "reason");
        foreach (var s in plan.Stages)
            table.AddRow(s.Name + (s.Implemented ? "" : " [grey](not implemented)[/]"), Color(s.Status), s.Key ?? "",
                Markup.Escape(s.Reason));
        AnsiConsole.Write(table);
        return 0;
    }

    static string Memory(Settings settings, StepDpo.Core.Manifests.Manifest m)
    {
        string device = settings.Device ?? m.Train.Device;
        if (device == "auto") device = DeviceMemory.Total("cuda") is null ? "cpu" : "cuda";
        if (device != "cpu" && device != "cuda" && !System.Text.RegularExpressions.Regex.IsMatch(device, "^cuda:[0-9]+$"))
            throw new StepDpo.Core.StepDpoException($"--device '{device}': expected cpu, cuda or cuda:N");
        long total = settings.DeviceMemoryGb is double gb ? (long)(gb * 1e9) : DeviceMemory.Total(device)
            ?? throw new StepDpo.Core.StepDpoException($"--device {device}: this machine cannot tell its memory (no nvidia-smi); pass --device-memory GB");
        return MemoryReport.Build(m, settings.Workspace(), device, total);
    }

    public static string ToJson(Plan plan) => JsonSerializer.Serialize(new
    {
        experiment = plan.Experiment,
        stages = plan.Stages.Select(s => new
        {
            name = s.Name,
            key = s.Key,
            status = s.Status.ToString().ToLowerInvariant(),
            dir = s.Dir,
            reason = s.Reason,
            implemented = s.Implemented,
            upstream = s.Upstream,
        }),
    }, new JsonSerializerOptions { WriteIndented = true });

    static string Color(StageStatus s) => s switch
    {
        StageStatus.Cached => "[green]cached[/]",
        StageStatus.Stale => "[yellow]stale[/]",
        StageStatus.Missing => "[red]missing[/]",
        _ => "[grey]disabled[/]",
    };
}
