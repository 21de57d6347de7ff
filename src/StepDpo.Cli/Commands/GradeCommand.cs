using System.ComponentModel;
using Spectre.Console.Cli;
using StepDpo.Data;
using StepDpo.Answers;

namespace StepDpo.Cli.Commands;

public sealed class GradeSettings : CommandSettings
{
    [CommandOption("--input <PATH>"), Description("JSONL, one {\"prediction\": response, \"answer\": gold} per line")]
    public string Input { get; init; } = "";

    [CommandOption("--output <PATH>"), Description("JSONL: each input line plus \"extracted\" and \"correct\"")]
    public string Output { get; init; } = "";

    [CommandOption("--grader <NAME>"), Description("stepdpo (default), hendrycks (the classic MATH checker) or deepseekmath (the Step-DPO paper's comparison)"), DefaultValue("stepdpo")]
    public string Grader { get; init; } = "stepdpo";

    [CommandOption("--order <RULES>"), Description("extraction order, e.g. boxed,the-answer-is,last-number (default: boxed first)")]
    public string? Order { get; init; }

    [CommandOption("--disagreements <PATH>"), Description("also grade with the other grader and write the lines where they disagree")]
    public string? Disagreements { get; init; }

    public override Spectre.Console.ValidationResult Validate()
    {
        if (string.IsNullOrWhiteSpace(Input)) return Spectre.Console.ValidationResult.Error("--input is required");
        if (string.IsNullOrWhiteSpace(Output)) return Spectre.Console.ValidationResult.Error("--output is required");
        if (!Grading.Graders.Contains(Grader))
            return Spectre.Console.ValidationResult.Error($"--grader must be one of {string.Join(", ", Grading.Graders)}, got '{Grader}'");
        return Spectre.Console.ValidationResult.Success();
    }
}

/// <summary>`stepdpo grade`: the fixed grading contract over a JSONL file.</summary>
public sealed class GradeCommand : Command<GradeSettings>
{
    public override int Execute(CommandContext context, GradeSettings settings, CancellationToken ct)
    {
        ExtractionOrder? order;
        try { order = settings.Order is null ? null : ExtractionOrder.Parse(settings.Order); }
        catch (FormatException e) { throw new UserError($"--order: {e.Message}"); }
        string? other = settings.Disagreements is null ? null : settings.Grader == "stepdpo" ? "hendrycks" : "stepdpo";
        var s = GradeFile.Run(settings.Input, settings.Output, settings.Grader, order, other, settings.Disagreements);
        Console.Error.WriteLine($"graded {s.Lines} lines with {settings.Grader}: {s.Correct} correct ({s.Accuracy:P2}), {s.NoAnswer} without an answer"
                                + (other is null ? "" : $", {s.Disagreements} disagreements with {other} -> {settings.Disagreements}"));
        return 0;
    }
}
