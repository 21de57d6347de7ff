using System.ComponentModel;
using System.Text.Json;
using Spectre.Console;
using Spectre.Console.Cli;
using StepDpo.Torch.Generation;

namespace StepDpo.Cli.Commands.Model;

/// <summary>`stepdpo generate`: sample completions for one prompt (printed) or for each {"prompt": ...} line of a
/// JSONL file (one output line per sample: prompt_index, sample_index, text, token_ids, token_logprobs, logprob,
/// finish_reason). A fixed contract used to check the engine.</summary>
public sealed class GenerateCommand : Command<GenerateCommand.Settings>
{
    public sealed class Settings : ModelSettings
    {
        [CommandOption("--prompt <TEXT>")] [Description("one prompt; the completions are printed")]
        public string? Prompt { get; init; }

        [CommandOption("--input <PATH>")] [Description("JSONL, one {\"prompt\": ...} per line")]
        public string? Input { get; init; }

        [CommandOption("--output <PATH>")] [Description("JSONL output, one line per sample (with --input)")]
        public string? Output { get; init; }

        [CommandOption("-n|--samples <N>")] [Description("samples per prompt (they share the prompt's prefill); also accepted as --n")]
        public int N { get; init; } = 1;

        [CommandOption("--temperature <T>")] [Description("0 = greedy")]
        public double Temperature { get; init; } = 1.0;

        [CommandOption("--top-p <P>")]
        public double TopP { get; init; } = 1.0;

        [CommandOption("--top-k <K>")] [Description("0 = off")]
        public int TopK { get; init; }

        [CommandOption("--max-new-tokens <N>")]
        public int MaxNewTokens { get; init; } = 256;

        [CommandOption("--seed <N>")]
        public ulong Seed { get; init; }

        [CommandOption("--template <NAME>")] [Description("prompt template applied to each prompt (e.g. qwen2-boxed); none = raw")]
        public string? Template { get; init; }

        [CommandOption("--stop <TEXT>")] [Description("stop string (repeatable)")]
        public string[] Stop { get; init; } = [];

        [CommandOption("--batch-size <N>")] [Description("most sequences decoded together")]
        public int BatchSize { get; init; } = 32;

        public override ValidationResult Validate()
        {
            if (string.IsNullOrWhiteSpace(Model)) return ValidationResult.Error("--model is required");
            if ((Prompt is null) == (Input is null)) return ValidationResult.Error("give either --prompt or --input");
            if (Input is not null && string.IsNullOrWhiteSpace(Output)) return ValidationResult.Error("--input needs --output");
            try { Options().Validate(); }
            catch (ArgumentException e) { return ValidationResult.Error(e.Message); }
            return ValidationResult.Success();
        }

        public SamplingOptions Options() => new()
        {
            N = N, Temperature = Temperature, TopP = TopP, TopK = TopK, MaxNewTokens = MaxNewTokens, Seed = Seed,
            StopStrings = Stop, MaxBatchSize = BatchSize,
        };
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken ct)
    {
        var problems = settings.Input is null ? [settings.Prompt!]
            : JsonLines.Read(settings.Input).Select(r => JsonLines.String(r.Value, "prompt", settings.Input, r.Line)).ToList();
        var prompts = settings.Template is null ? problems
            : problems.Select(p => StepDpo.Text.PromptTemplates.Render(settings.Template, p)).ToList();
        var (model, tokenizer) = settings.Load();
        using var _ = model;
        var engine = new GenerationEngine(model, tokenizer);
        var options = settings.Options();
        IReadOnlyList<Completion> completions = [];
        var started = System.Diagnostics.Stopwatch.StartNew();
        AnsiConsole.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(),
                new RemainingTimeColumn())
            .Start(progress =>
            {
                var task = progress.AddTask("generating", maxValue: prompts.Count * options.N);
                completions = engine.Generate(prompts, options, new Callback<GenerationProgress>(p =>
                {
                    task.Value = p.FinishedSequences;
                    task.Description = $"generating ({p.GeneratedTokens:N0} tokens)";
                }), ct);
            });
        long tokens = completions.Sum(c => c.TokenIds.Length);
        if (settings.Input is null)
        {
            foreach (var c in completions)
                AnsiConsole.MarkupLineInterpolated($"[grey]#{c.SampleIndex} ({c.FinishReason}, logprob {c.LogProb:F2})[/]\n{c.Text}");
        }
        else
        {
            JsonLines.Write(settings.Output!, completions.Select(c => JsonSerializer.Serialize(new
            {
                prompt_index = c.PromptIndex, sample_index = c.SampleIndex, prompt = problems[c.PromptIndex], text = c.Text,
                token_ids = c.TokenIds, token_logprobs = c.TokenLogprobs, logprob = c.LogProb,
                finish_reason = c.FinishReason.ToString().ToLowerInvariant(),
            }, JsonLines.Options)));
        }
        Console.Error.WriteLine($"generated {completions.Count} samples, {tokens:N0} tokens in {started.Elapsed.TotalSeconds:F1} s " +
            $"({tokens / Math.Max(1e-9, started.Elapsed.TotalSeconds):F0} tokens/s)");
        return 0;
    }
}
