using Spectre.Console;
using Spectre.Console.Cli;
using StepDpo.Core;
using StepDpo.Core.Graph;
using StepDpo.Stages;
using StepDpo.Stages.Evaluation;
using StepDpo.Stages.Implementations;

namespace StepDpo.Cli.Commands;

/// <summary>`stepdpo check`: the manifest's `expect` thresholds against the evaluation summary of the current run
/// (the Reproduce gate). Prints a table; exits 1 when a metric misses its threshold.</summary>
public sealed class CheckCommand : Command<ExperimentSettings>
{
    public override int Execute(CommandContext context, ExperimentSettings settings, CancellationToken ct) =>
        Check(settings.Load(), settings.Workspace());

    /// <summary>The gate itself (also `stepdpo run --check`, after the run, in the same process).</summary>
    public static int Check(Core.Manifests.ResolvedManifest resolved, Workspace workspace)
    {
        var plan = Pipeline.Graph(workspace).Plan(resolved, "evaluate");
        var evaluate = plan["evaluate"];
        if (evaluate.Status != StageStatus.Cached)
            throw new StepDpoException($"no evaluation for the current manifest of '{plan.Experiment}' ({evaluate.Reason}); run it first: ./build.sh Evaluate --experiment {plan.Experiment}");
        var expectations = ReportStage.Expectations(resolved.Manifest);
        if (expectations.Count == 0)
        {
            Console.Out.WriteLine($"{plan.Experiment}: no expectations in the manifest");
            return 0;
        }
        var report = ExpectGate.Check(SummaryJson.Read(Path.Combine(evaluate.Dir!, EvaluateStage.SummaryFile)), expectations);
        Console.Out.WriteLine(report.RenderTable());
        if (report.Passed)
        {
            AnsiConsole.MarkupLine($"[green]all {report.Rows.Count} expectations met[/]");
            return 0;
        }
        Console.Error.WriteLine($"error: {plan.Experiment}: {report.FailureSummary()}");
        return 1;
    }
}
