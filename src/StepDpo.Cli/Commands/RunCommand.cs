using Spectre.Console;
using Spectre.Console.Cli;
using StepDpo.Core.Graph;
using StepDpo.Stages;

namespace StepDpo.Cli.Commands;

/// <summary>`stepdpo run` and the stage commands (`stepdpo train` = run --until train, registered with the stage's
/// name as data): runs the cached stage graph.</summary>
public sealed class RunCommand : AsyncCommand<RunSettings>
{
    public override async Task<int> ExecuteAsync(CommandContext context, RunSettings settings, CancellationToken ct)
    {
        string? impliedUntil = context.Data as string;
        var resolved = settings.Load();
        var graph = Pipeline.Graph(settings.Workspace());
        string format = settings.LogFormat == "auto" ? (ConsoleProgress.Interactive ? "live" : "plain") : settings.LogFormat;
        if (format is not ("live" or "plain" or "msbuild"))
            throw new UserError($"--log-format {settings.LogFormat}: expected auto, plain or msbuild");
        var options = new RunOptions(settings.Until ?? impliedUntil, settings.Force.ToHashSet());
        IProgressReporter progress = format == "live" ? new ConsoleProgress() : new LineProgressReporter(Console.Out);
        var plan = await graph.RunAsync(resolved, options, progress, e => Print(e, format), ct);
        if (format != "msbuild")
            AnsiConsole.MarkupLine($"[green]done[/]: {Markup.Escape(resolved.Manifest.Name)} " +
                $"({plan.Stages.Count(s => s.Status == StageStatus.Cached)} stages complete)");
        return settings.Check ? CheckCommand.Check(resolved, settings.Workspace()) : 0;
    }

    /// <summary>In msbuild format each event is one line `stepdpo: stage=NAME status=... dir=...` (and metric lines),
    /// which the StepDpo MSBuild task turns into log messages and task outputs.</summary>
    static void Print(StageEvent e, string format)
    {
        if (format == "msbuild")
        {
            Console.Out.WriteLine($"stepdpo: stage={e.Stage} status={e.Kind.ToString().ToLowerInvariant()} dir={e.Dir} message={e.Message}");
            foreach (var (k, v) in e.Metrics ?? new Dictionary<string, double>())
                Console.Out.WriteLine($"stepdpo: metric {k}={v.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}");
            return;
        }
        string text = e.Kind switch
        {
            StageEventKind.Cached => $"[grey]{e.Stage,-9} cached[/]   {Markup.Escape(Core.Workspace.Display(e.Dir!))}",
            StageEventKind.Started => $"[blue]{e.Stage,-9} running[/]",
            StageEventKind.Completed => $"[green]{e.Stage,-9} done[/]     {Markup.Escape(e.Message)} -> {Markup.Escape(Core.Workspace.Display(e.Dir!))}",
            StageEventKind.Failed => $"[red]{e.Stage,-9} failed[/]   {Markup.Escape(e.Message)}",
            _ => $"[grey]{e.Stage,-9} skipped  {Markup.Escape(e.Message)}[/]",
        };
        AnsiConsole.MarkupLine(text);
    }
}
