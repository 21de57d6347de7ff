using System.ComponentModel;
using System.Diagnostics;
using Spectre.Console;
using Spectre.Console.Cli;
using StepDpo.Data.Synthetic;

namespace StepDpo.Cli.Commands;

/// <summary>`stepdpo synthetic`: writes train and test JSONL of synthetic word problems (the `tiny` world).</summary>
public sealed class SyntheticCommand : Command<SyntheticCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--out <DIR>")]
        [Description("Directory for train.jsonl and test.jsonl.")]
        public string Out { get; init; } = "data/synthetic";

        [CommandOption("--train <COUNT>")]
        [Description("Number of training problems.")]
        public int Train { get; init; } = 20_000;

        [CommandOption("--test <COUNT>")]
        [Description("Number of held-out test problems (disjoint from train by construction).")]
        public int Test { get; init; } = 500;

        [CommandOption("--seed <SEED>")]
        public int Seed { get; init; } = 1;

        [CommandOption("--min-steps <N>")]
        public int MinSteps { get; init; } = SyntheticOptions.Default.MinSteps;

        [CommandOption("--max-steps <N>")]
        public int MaxSteps { get; init; } = SyntheticOptions.Default.MaxSteps;

        [CommandOption("--max-value <N>")]
        [Description("Largest quantity any step may produce.")]
        public int MaxValue { get; init; } = SyntheticOptions.Default.MaxValue;

        [CommandOption("--templates <NAMES>")]
        [Description("Comma-separated story templates (shop, bakery, collection); default all.")]
        public string? Templates { get; init; }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken ct)
    {
        var options = new SyntheticOptions
        {
            MinSteps = settings.MinSteps,
            MaxSteps = settings.MaxSteps,
            MaxValue = settings.MaxValue,
            Templates = settings.Templates?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
        };
        var sw = Stopwatch.StartNew();
        foreach (var (split, count) in new[] { (SyntheticSplit.Train, settings.Train), (SyntheticSplit.Test, settings.Test) })
        {
            ct.ThrowIfCancellationRequested();
            var problems = SyntheticWorld.Generate(count, settings.Seed, options with { Split = split });
            string path = Path.Combine(settings.Out, $"{split.ToString().ToLowerInvariant()}.jsonl");
            SyntheticWorld.WriteJsonl(path, problems);
            AnsiConsole.MarkupLineInterpolated($"wrote {problems.Count} {split.ToString().ToLowerInvariant()} problems to {path}");
        }
        AnsiConsole.MarkupLineInterpolated($"done in {sw.Elapsed.TotalSeconds:F1} s");
        return 0;
    }
}
