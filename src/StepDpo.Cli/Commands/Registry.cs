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
        config.AddCommand<GradeCommand>("grade").WithDescription("extract and check answers: JSONL {prediction, answer} -> + {extracted, correct}");
        config.AddBranch("data", d => { d.SetDescription("inspect problem sources"); d.AddCommand<DataShowCommand>("show").WithDescription("print the first problems of a source"); d.AddCommand<DataStatsCommand>("stats").WithDescription("count problems, levels, subjects and answer kinds"); });
    }
}
