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
        var workspace = settings.Workspace();
        var graph = Pipeline.Graph(workspace);
        var plan = graph.Plan(resolved, settings.Until);
        // What would run is checked for readiness: inputs on disk, keys a run would reject, the first GPU step.
        var readiness = plan.Stages.Where(s => s.Status is StageStatus.Missing or StageStatus.Stale)
            .ToDictionary(s => s.Name, s => StageReadiness.Of(graph.Find(s.Name), s, workspace));
        if (settings.Json)
        {
            Console.Out.WriteLine(ToJson(plan, readiness));
            return 0;
        }
        var table = new Table().Title($"plan for [bold]{Markup.Escape(plan.Experiment)}[/]")
            .AddColumns("stage", "status", "key", "reason", "ready to run");
        foreach (var s in plan.Stages)
            table.AddRow(s.Name, Color(s.Status), s.Key ?? "",
                Markup.Escape(s.Reason), readiness.TryGetValue(s.Name, out var r) ? Describe(r) : "");
        AnsiConsole.Write(table);
        return 0;
    }

    static string Memory(Settings settings, StepDpo.Core.Manifests.Manifest m)
    {
        string device = settings.Device ?? m.Model.Device;
        if (device == "auto") device = DeviceMemory.Total("cuda") is null ? "cpu" : "cuda";
        if (device != "cpu" && device != "cuda" && !System.Text.RegularExpressions.Regex.IsMatch(device, "^cuda:[0-9]+$"))
            throw new StepDpo.Core.StepDpoException($"--device '{device}': expected cpu, cuda or cuda:N");
        long total = settings.DeviceMemoryGb is double gb ? (long)(gb * 1e9) : DeviceMemory.Total(device)
            ?? throw new StepDpo.Core.StepDpoException($"--device {device}: this machine cannot tell its memory (no nvidia-smi); pass --device-memory GB");
        return MemoryReport.Build(m, settings.Workspace(), device, total);
    }

    static string Describe(StageReadiness r) => string.Join("\n",
        new[] { r.Ready ? "[green]ready[/]" : "[red]not ready[/]" }
            .Concat(r.Problems.Select(p => "[red]" + Markup.Escape(p) + "[/]"))
            .Concat(r.Notes.Select(Markup.Escape))
            .Concat(r.Gpu is null ? [] : ["[yellow]needs GPUs:[/] " + Markup.Escape(r.Gpu)]));

    public static string ToJson(Plan plan, IReadOnlyDictionary<string, StageReadiness>? readiness = null) => JsonSerializer.Serialize(new
    {
        experiment = plan.Experiment,
        stages = plan.Stages.Select(s => new
        {
            name = s.Name,
            key = s.Key,
            status = s.Status.ToString().ToLowerInvariant(),
            dir = s.Dir,
            reason = s.Reason,
            upstream = s.Upstream,
            readiness = readiness?.GetValueOrDefault(s.Name) is { } r
                ? new { ready = r.Ready, problems = r.Problems, notes = r.Notes, gpu = r.Gpu } : null,
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
