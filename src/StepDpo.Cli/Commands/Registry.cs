using Spectre.Console.Cli;

namespace StepDpo.Cli.Commands;

/// <summary>The one list of commands. Add yours here (one line) next to its group.</summary>
public static class Registry
{
    public static void Register(IConfigurator config)
    {
        // Foundation: doctor, manifest, plan, run and the stage commands.
        // Model: model init, tokenize, logprobs, generate.
        // Grading and data: grade, data show|stats.
        config.AddCommand<SyntheticCommand>("synthetic").WithDescription("Write train/test JSONL of synthetic multi-step word problems.");
    }
}
