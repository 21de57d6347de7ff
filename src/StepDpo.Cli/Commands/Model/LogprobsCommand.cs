using System.ComponentModel;
using System.Text.Json;
using Spectre.Console;
using Spectre.Console.Cli;
using StepDpo.Core;
using StepDpo.Torch.Generation;

namespace StepDpo.Cli.Commands.Model;

/// <summary>`stepdpo logprobs`: log p(completion | prompt) for each {"prompt", "completion"} line, as
/// {"logprob": sum, "token_logprobs": [...]}. Prompt and completion are tokenised separately and concatenated (BOS
/// before the prompt when the tokenizer has one), as DPO trainers do. A fixed contract used to check the engine.</summary>
public sealed class LogprobsCommand : Command<LogprobsCommand.Settings>
{
    public sealed class Settings : ModelSettings
    {
        [CommandOption("--input <PATH>")] [Description("JSONL, one {\"prompt\": ..., \"completion\": ...} per line")]
        public string Input { get; init; } = "";

        [CommandOption("--output <PATH>")] [Description("JSONL, one {\"logprob\": ..., \"token_logprobs\": [[...]]} per input line")]
        public string Output { get; init; } = "";

        [CommandOption("--batch-tokens <N>")] [Description("most tokens per forward batch")]
        public int BatchTokens { get; init; } = 8192;

        public override ValidationResult Validate()
        {
            foreach (var (name, value) in new[] { ("--model", Model), ("--input", Input), ("--output", Output) })
                if (string.IsNullOrWhiteSpace(value)) return ValidationResult.Error($"{name} is required");
            return BatchTokens < 1 ? ValidationResult.Error("--batch-tokens must be positive") : ValidationResult.Success();
        }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken ct)
    {
        var rows = JsonLines.Read(settings.Input);
        var (model, tokenizer) = settings.Load();
        using var _ = model;
        var pairs = new List<(int[] Prompt, int[] Completion)>();
        foreach (var (line, row) in rows)
        {
            var prompt = GenerationEngine.Encode(tokenizer, JsonLines.String(row, "prompt", settings.Input, line), addBos: true);
            var completion = tokenizer.Encode(JsonLines.String(row, "completion", settings.Input, line));
            if (prompt.Length == 0 && completion.Length > 0)
                throw new StepDpoException($"{settings.Input}:{line}: key 'prompt': empty, and the tokenizer has no BOS to condition on");
            pairs.Add((prompt, completion));
        }
        IReadOnlyList<ScoredCompletion> scored = [];
        AnsiConsole.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(),
                new RemainingTimeColumn())
            .Start(progress =>
            {
                var task = progress.AddTask("scoring", maxValue: Math.Max(1, pairs.Count));
                scored = Scorer.Score(model, pairs, settings.BatchTokens, new Callback<int>(done => task.Value = done));
            });
        JsonLines.Write(settings.Output, scored.Select(s => JsonSerializer.Serialize(
            new { logprob = s.LogProb, token_logprobs = s.TokenLogprobs }, JsonLines.Options)));
        Console.Error.WriteLine($"scored {pairs.Count} completions ({pairs.Sum(p => p.Completion.Length)} tokens) -> {settings.Output}");
        return 0;
    }
}

/// <summary>IProgress that runs on the reporting thread.</summary>
sealed class Callback<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
