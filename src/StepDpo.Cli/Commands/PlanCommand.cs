using System.Text.Json;
using Spectre.Console;
using Spectre.Console.Cli;
using StepDpo.Core.Graph;
using StepDpo.Stages;

namespace StepDpo.Cli.Commands;

/// <summary>`stepdpo plan`: every stage as cached / stale / missing / disabled, with the reason.</summary>
public sealed class PlanCommand : Command<PlanCommand.Settings>
{
    public sealed class Settings : ExperimentSettings
    {
        [System.ComponentModel.Description("machine-readable: {\"experiment\", \"stages\": [[{\"name\", \"key\", \"status\", \"dir\", ...}]]}")]
        [CommandOption("--json")] public bool Json { get; set; }

        [CommandOption("--until <STAGE>")] public string? Until { get; set; }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken ct)
    {
        var resolved = settings.Load();
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
