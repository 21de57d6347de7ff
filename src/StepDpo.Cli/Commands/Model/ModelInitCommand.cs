using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;
using StepDpo.Torch.Checkpoints;
using StepDpo.Torch.Model;

namespace StepDpo.Cli.Commands.Model;

/// <summary>`stepdpo model init`: a randomly initialised qwen2/llama checkpoint in Hugging Face layout, its vocabulary
/// taken from a tokenizer.json (vocab + added tokens) whose files are copied next to the weights.</summary>
public sealed class ModelInitCommand : Command<ModelInitCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--arch <ARCH>")] [Description("qwen2 or llama")]
        public string Arch { get; init; } = "qwen2";

        [CommandOption("--preset <PRESET>")] [Description("tiny (d=64, 2 layers) or small (d=256, 4 layers)")]
        public string Preset { get; init; } = "tiny";

        [CommandOption("--tokenizer <PATH>")] [Description("byte (the byte-level tokenizer), or a tokenizer.json or a folder holding it")]
        public string Tokenizer { get; init; } = "byte";

        [CommandOption("--out <DIR>")] [Description("output folder (replaced if it exists)")]
        public string Out { get; init; } = "";

        [CommandOption("--seed <N>")] [Description("initialisation seed")]
        public ulong Seed { get; init; }

        [CommandOption("--dtype <DTYPE>")] [Description("float32 or bfloat16 (weights on disk)")]
        public string DType { get; init; } = "float32";

        public override ValidationResult Validate() =>
            string.IsNullOrWhiteSpace(Out) ? ValidationResult.Error("--out is required") : ValidationResult.Success();
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken ct)
    {
        string? byteFolder = null;
        string tokenizerSource = settings.Tokenizer;
        if (settings.Tokenizer == "byte")
        {
            byteFolder = Path.Combine(Path.GetTempPath(), $"stepdpo-byte-tokenizer-{Guid.NewGuid():N}");
            StepDpo.Text.ByteTokenizer.WriteTokenizerJson(byteFolder);
            tokenizerSource = byteFolder;
        }
        try
        {
            var vocabulary = TokenizerVocabulary.Read(tokenizerSource);
            var config = Presets.Create(settings.Arch, settings.Preset, vocabulary.Size, vocabulary.BosId, vocabulary.EosIds);
            using var model = new CausalLM(config);
            RandomInit.Apply(model, settings.Seed);
            Checkpoint.Save(model, settings.Out, tokenizerSource, Checkpoint.ParseDType(settings.DType));
            long parameters = model.parameters().Sum(p => p.NumberOfElements);
            AnsiConsole.MarkupLineInterpolated(
                $"[green]wrote[/] {settings.Out}: {settings.Arch}/{settings.Preset}, {parameters:N0} parameters, vocab {config.VocabSize}, seed {settings.Seed}");
            return 0;
        }
        finally
        {
            if (byteFolder is not null && Directory.Exists(byteFolder)) Directory.Delete(byteFolder, true);
        }
    }
}
