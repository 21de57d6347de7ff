using System.ComponentModel;
using Spectre.Console.Cli;
using StepDpo.Core;
using StepDpo.Core.Manifests;

namespace StepDpo.Cli.Commands;

/// <summary>Options shared by every command that works on an experiment manifest.</summary>
public class ExperimentSettings : CommandSettings
{
    [CommandOption("-e|--experiment <NAME|PATH>")]
    [Description("experiment name (experiments/NAME.yaml) or a manifest path; default: tiny")]
    public string Experiment { get; set; } = "tiny";

    [CommandOption("--set <KEY=VALUE>")]
    [Description("override a manifest value, e.g. --set train.beta=0.3 (repeatable)")]
    public string[] Set { get; set; } = Array.Empty<string>();

    [CommandOption("--workspace <DIR>")]
    [Description("folder holding experiments/ (default: found by walking up from the current folder)")]
    public string? WorkspaceDir { get; set; }

    public Workspace Workspace() => WorkspaceDir is null ? Core.Workspace.Discover() : new Workspace(WorkspaceDir);

    public ResolvedManifest Load() => ManifestLoader.Load(Experiment, Workspace(), Set);
}

/// <summary>Options of commands that run stages.</summary>
public class RunSettings : ExperimentSettings
{
    [CommandOption("--until <STAGE>")]
    [Description("stop after this stage (sft, sample, verify, pairs, train, evaluate, report)")]
    public string? Until { get; set; }

    [CommandOption("--force <STAGE>")]
    [Description("rerun this stage even if cached, and everything after it (repeatable)")]
    public string[] Force { get; set; } = Array.Empty<string>();

    [CommandOption("--check")]
    [Description("then check the evaluation against the manifest's expect thresholds, as `stepdpo check` (exit 1 on a miss)")]
    public bool Check { get; set; }

    [CommandOption("--log-format <FORMAT>")]
    [Description("auto (live progress in a terminal), plain (lines), msbuild (lines the MSBuild task understands)")]
    public string LogFormat { get; set; } = "auto";
}
