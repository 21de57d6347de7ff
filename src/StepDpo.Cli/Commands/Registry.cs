using Spectre.Console.Cli;

namespace StepDpo.Cli.Commands;

/// <summary>The one list of commands. Add yours here (one line) next to its group.</summary>
public static class Registry
{
    public static void Register(IConfigurator config)
    {
        // Foundation: doctor, manifest, plan, run and the stage commands.
        // Model: model init, tokenize, logprobs, generate.
        config.AddBranch("model", model => model.AddCommand<Model.ModelInitCommand>("init").WithDescription("Write a randomly initialised qwen2/llama checkpoint (HF layout)"));
        config.AddCommand<Model.LogprobsCommand>("logprobs").WithDescription("Log-probabilities of completions given prompts (JSONL)");
        config.AddCommand<Model.GenerateCommand>("generate").WithDescription("Sample completions (KV cache, n per prompt, top-p/top-k, seeds)");
        // Grading and data: grade, data show|stats.
    }
}
