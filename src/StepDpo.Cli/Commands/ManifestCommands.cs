using Spectre.Console;
using Spectre.Console.Cli;
using StepDpo.Core.Manifests;

namespace StepDpo.Cli.Commands;

/// <summary>`stepdpo manifest validate`: reads, merges and checks a manifest; every problem is printed with file:line:column.</summary>
public sealed class ManifestValidateCommand : Command<ExperimentSettings>
{
    public override int Execute(CommandContext context, ExperimentSettings settings, CancellationToken ct)
    {
        var resolved = settings.Load();
        AnsiConsole.MarkupLine($"[green]ok[/] {Markup.Escape(resolved.Manifest.Name)}: " +
            $"{Markup.Escape(string.Join(" <- ", resolved.Files.Select(Core.Workspace.Display)))}" +
            (resolved.Overrides.Count > 0 ? $" with {resolved.Overrides.Count} override(s)" : ""));
        return 0;
    }
}

/// <summary>`stepdpo manifest show`: the fully resolved manifest (defaults filled in) as YAML or JSON.</summary>
public sealed class ManifestShowCommand : Command<ManifestShowCommand.Settings>
{
    public sealed class Settings : ExperimentSettings
    {
        [CommandOption("--json")] public bool Json { get; set; }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken ct)
    {
        var m = settings.Load().Manifest;
        Console.Out.Write(settings.Json
            ? System.Text.Json.JsonSerializer.Serialize(m, ManifestWriter.JsonIndented) + "\n"
            : ManifestWriter.ToYaml(m));
        return 0;
    }
}
