using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;
using StepDpo.Data;

namespace StepDpo.Cli.Commands;

public class DataSettings : CommandSettings
{
    [CommandArgument(0, "<SOURCE>"), Description("gsm8k | math | math500 | qwen25:<set> | jsonl | stepdpo-pairs")]
    public string Source { get; init; } = "";

    [CommandOption("--path <PATH>"), Description("file, folder or hf://owner/name@revision/path[[#sha256]]; empty: the shared copy of a named benchmark")]
    public string Path { get; init; } = "";

    [CommandOption("--limit <N>"), Description("read at most N problems")]
    public int? Limit { get; init; }

    [CommandOption("--field <KEY=NAME>"), Description("field mapping for jsonl (question=q, answer=a, solution=..., id=..., level=..., subject=...)")]
    public string[] Fields { get; init; } = [];

    public DataSpec ToSpec()
    {
        var fields = new Dictionary<string, string>();
        foreach (var f in Fields)
        {
            var eq = f.IndexOf('=');
            if (eq <= 0 || eq == f.Length - 1) throw new UserError($"--field must be KEY=NAME, got '{f}'");
            fields[f[..eq].Trim()] = f[(eq + 1)..].Trim();
        }
        return new DataSpec(Source, Path, Limit, fields.Count == 0 ? null : fields);
    }
}

public sealed class DataShowSettings : DataSettings
{
    [CommandOption("--width <CHARS>"), Description("question characters to show"), DefaultValue(100)]
    public int Width { get; init; } = 100;
}

/// <summary>`stepdpo data show`: the first problems of a source, as the pipeline will see them.</summary>
public sealed class DataShowCommand : Command<DataShowSettings>
{
    public override int Execute(CommandContext context, DataShowSettings settings, CancellationToken ct)
    {
        var table = new Table().AddColumns("id", "answer", "level", "subject", "question");
        foreach (var p in DataSources.Load(settings.ToSpec() with { Limit = settings.Limit ?? 10 }))
        {
            ct.ThrowIfCancellationRequested();
            table.AddRow(Markup.Escape(p.Id), Markup.Escape(p.Answer), Markup.Escape(p.Level ?? ""), Markup.Escape(p.Subject ?? ""),
                Markup.Escape(Shorten(p.Question, settings.Width)));
        }
        AnsiConsole.Write(table);
        return 0;
    }

    private static string Shorten(string s, int width)
    {
        s = s.Replace('\n', ' ');
        return s.Length <= width ? s : s[..System.Math.Max(0, width - 1)] + "…";
    }
}

/// <summary>`stepdpo data stats`: size, duplicates, levels, subjects and answer kinds.</summary>
public sealed class DataStatsCommand : Command<DataSettings>
{
    public override int Execute(CommandContext context, DataSettings settings, CancellationToken ct)
    {
        var spec = settings.ToSpec();
        var s = DataStats.Compute(DataSources.Load(spec));
        Console.WriteLine($"source     {spec.Source} ({DataSources.ResolvePath(spec)})");
        Console.WriteLine($"problems   {s.Count}  (duplicate ids: {s.DuplicateIds})");
        Console.WriteLine($"question   mean {s.MeanQuestionChars:F0} chars, max {s.MaxQuestionChars}");
        Print("answer kinds", s.AnswerKinds, s.Count);
        if (s.Levels.Count > 1 || !s.Levels.ContainsKey("-")) Print("levels", s.Levels, s.Count);
        if (s.Subjects.Count > 1 || !s.Subjects.ContainsKey("-")) Print("subjects", s.Subjects, s.Count);
        return 0;
    }

    private static void Print(string title, IReadOnlyDictionary<string, int> counts, int total)
    {
        Console.WriteLine(title);
        foreach (var (key, n) in counts.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal))
            Console.WriteLine($"  {key,-40} {n,6}  {(double)n / System.Math.Max(1, total),7:P1}");
    }
}
