using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;
using StepDpo.Core;
using StepDpo.Core.Artifacts;
using StepDpo.Core.Manifests;
using StepDpo.Stages;

namespace StepDpo.Cli.Commands;

/// <summary>
/// `stepdpo gc`: removes from the artifact store what no manifest in experiments/ references with its current keys
/// (old keys, partial runs of them, runs of --set overrides and of manifests outside experiments/), after listing what
/// and how many bytes. Nothing is removed without --yes (or a "y" in a terminal), or while a run uses the store.
/// </summary>
public sealed class GcCommand : Command<GcCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--dry-run"), Description("only list what would be removed")]
        public bool DryRun { get; set; }

        [CommandOption("-y|--yes"), Description("remove without asking")]
        public bool Yes { get; set; }

        [CommandOption("--workspace <DIR>")]
        [Description("folder holding experiments/ (default: found by walking up from the current folder)")]
        public string? WorkspaceDir { get; set; }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken ct)
    {
        var ws = settings.WorkspaceDir is null ? Workspace.Discover() : new Workspace(settings.WorkspaceDir);
        var store = new ArtifactStore(ws.ArtifactsDir);
        var garbage = StoreGarbage.Find(store, ReferencedKeys(ws));
        if (garbage.Count == 0)
        {
            Console.Out.WriteLine($"nothing to remove: every artifact in {Workspace.Display(store.StoreDir)} is referenced by a manifest in experiments/");
            return 0;
        }
        foreach (var item in garbage)
            Console.Out.WriteLine($"{Size(item.Bytes),10}  {item.What}  {Workspace.Display(item.Path)}");
        long total = garbage.Sum(g => g.Bytes);
        Console.Out.WriteLine($"{Size(total),10}  in {garbage.Count} unreferenced artifacts");
        if (settings.DryRun)
        {
            Console.Out.WriteLine("dry run: nothing removed");
            return 0;
        }
        if (!settings.Yes && !Confirmed())
            throw new UserError("nothing removed: pass --yes to remove them (or --dry-run to only list)");
        using (StoreLocks.TryExclusive(store) ?? throw new StepDpoException(
            $"a run is using {Workspace.Display(store.StoreDir)}; nothing removed (run gc when no run is in progress)"))
            StoreGarbage.Remove(store, garbage);
        Console.Out.WriteLine($"removed {garbage.Count} artifacts, {Size(total)}");
        return 0;
    }

    /// <summary>Every (stage, key) of every experiment's current plan. A manifest that does not load stops gc: what
    /// it references is unknown, so nothing may go.</summary>
    static HashSet<(string, string)> ReferencedKeys(Workspace ws)
    {
        var keep = new HashSet<(string, string)>();
        var graph = Pipeline.Graph(ws);
        foreach (var name in ws.ExperimentNames())
        {
            ResolvedManifest resolved;
            try { resolved = ManifestLoader.Load(name, ws); }
            catch (ManifestException e) { throw new StepDpoException($"gc needs every manifest to load, to know what it references: {e.Message}"); }
            foreach (var stage in graph.Plan(resolved).Stages)
                if (stage.Key is { } key) keep.Add((stage.Name, key));
        }
        return keep;
    }

    static bool Confirmed()
    {
        if (Console.IsInputRedirected || !AnsiConsole.Profile.Capabilities.Interactive) return false;
        return AnsiConsole.Confirm("remove them?", defaultValue: false);
    }

    static string Size(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):F1} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):F1} MiB",
        >= 1L << 10 => $"{bytes / (double)(1L << 10):F1} KiB",
        _ => $"{bytes} B",
    };
}
