using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;
using StepDpo.Core;
using StepDpo.Core.Manifests;

namespace StepDpo.Cli.Commands;

/// <summary>`stepdpo init [DIR] [--from NAME]`: a workspace to edit. Copies the experiment's manifest (and the bases it
/// extends) into DIR/experiments/, and says what to run next. The copy then wins over the shipped manifest.</summary>
public sealed class InitCommand : Command<InitCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "[DIR]")]
        [Description("folder of the new workspace (created when missing); default: the current folder")]
        public string Dir { get; init; } = ".";

        [CommandOption("--from <NAME>")]
        [Description("the experiment to start from: shipped with the tool, in the current workspace, or a manifest path; default: tiny")]
        public string From { get; init; } = "tiny";
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken ct)
    {
        var resolved = ManifestLoader.Load(settings.From, Workspace.Discover()); // a manifest that does not validate is no start
        string experiments = Path.Combine(Path.GetFullPath(settings.Dir), "experiments");
        var copies = resolved.Files.Select(f => (From: f, To: Path.Combine(experiments, ManifestLoader.FileName(f)))).ToList();
        if (copies.FirstOrDefault(c => File.Exists(c.To)) is { To: { } taken })
            throw new UserError($"{Workspace.Display(taken)} exists; init writes only new files (choose another folder)");
        Directory.CreateDirectory(experiments);
        foreach (var (from, to) in copies)
        {
            File.WriteAllText(to, ManifestLoader.ReadText(from));
            AnsiConsole.MarkupLineInterpolated($"wrote {Workspace.Display(to)} (from {Workspace.Display(from)})");
        }
        string name = Path.GetFileNameWithoutExtension(copies[0].To);
        string cd = Path.GetFullPath(settings.Dir) == Environment.CurrentDirectory ? "" : $"  cd {settings.Dir}\n";
        Console.Out.Write($"""

            next:
            {cd}  $EDITOR experiments/{name}.yaml
              stepdpo manifest validate --experiment {name}
              stepdpo plan --experiment {name}
              stepdpo run --experiment {name}    (artifacts go to artifacts/ next to experiments/)

            """);
        return 0;
    }
}
