using System.ComponentModel;
using System.Text.Json;
using Spectre.Console.Cli;
using StepDpo.Core;
using StepDpo.Text;

namespace StepDpo.Cli.Commands;

/// <summary>`stepdpo tokenize`: one {"text": ...} per input line to one {"ids": [...]} per output line, no special
/// tokens added (special tokens written in the text are recognised). A fixed contract other tools rely on.</summary>
public sealed class TokenizeCommand : Command<TokenizeCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--tokenizer <PATH>")]
        [Description("tokenizer.json (or .json.gz), or a folder holding it with tokenizer_config.json")]
        public string Tokenizer { get; init; } = "";

        [CommandOption("--input <PATH>")]
        [Description("JSONL input, one {\"text\": ...} per line")]
        public string Input { get; init; } = "";

        [CommandOption("--output <PATH>")]
        [Description("JSONL output, one {\"ids\": [[...]]} per input line")]
        public string Output { get; init; } = "";

        public override Spectre.Console.ValidationResult Validate()
        {
            foreach (var (name, value) in new[] { ("--tokenizer", Tokenizer), ("--input", Input), ("--output", Output) })
                if (string.IsNullOrWhiteSpace(value)) return Spectre.Console.ValidationResult.Error($"{name} is required");
            return Spectre.Console.ValidationResult.Success();
        }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken ct)
    {
        var tokenizer = Tokenizers.Load(settings.Tokenizer);
        if (!File.Exists(settings.Input)) throw new FileNotFoundException($"{settings.Input}: input file not found", settings.Input);
        int lines = 0, tokens = 0;
        Core.Artifacts.AtomicFile.WriteText(settings.Output, output =>
        {
            foreach (var line in File.ReadLines(settings.Input))
            {
                ct.ThrowIfCancellationRequested();
                lines++;
                var ids = tokenizer.Encode(ReadText(line, settings.Input, lines));
                tokens += ids.Length;
                output.Write("{\"ids\":[");
                output.Write(string.Join(',', ids));
                output.WriteLine("]}");
            }
        });
        Console.Error.WriteLine($"tokenized {lines} lines into {tokens} tokens -> {settings.Output}");
        return 0;
    }

    static string ReadText(string line, string file, int lineNumber)
    {
        try
        {
            using var doc = JsonDocument.Parse(line);
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("text", out var text)
                && text.ValueKind == JsonValueKind.String)
                return text.GetString()!;
        }
        catch (JsonException e)
        {
            throw new StepDpoException($"{file}:{lineNumber}: not valid JSON ({e.Message})", e);
        }
        throw new StepDpoException($"{file}:{lineNumber}: text: expected an object with a string field \"text\"");
    }
}
