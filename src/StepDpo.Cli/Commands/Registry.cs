using Spectre.Console.Cli;

namespace StepDpo.Cli.Commands;

/// <summary>The one list of commands. Add yours here (one line) next to its group.</summary>
public static class Registry
{
    public static void Register(IConfigurator config)
    {
        // Foundation: doctor, manifest, plan, run and the stage commands.
        // Model: model init, tokenize, logprobs, generate.
        config.AddCommand<TokenizeCommand>("tokenize").WithDescription("Text to token ids: JSONL {\"text\"} in, {\"ids\"} out, no special tokens added.");
        // Grading and data: grade, data show|stats.
    }
}
