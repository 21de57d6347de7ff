using System.Text.Json;
using System.Text.RegularExpressions;
using StepDpo.Answers;

namespace StepDpo.Data;

/// <summary>The evaluation sets shipped with the Qwen2.5-Math evaluation suite, each in its own
/// layout; the question and gold answer are built as that suite builds them (e.g. SVAMP joins body
/// and question, ASDiv drops the "(apples)" unit, SAT-math appends the options).</summary>
internal static partial class QwenEvalLoader
{
    public static readonly IReadOnlyList<string> Sets =
        ["gsm8k", "minerva_math", "aime24", "amc23", "olympiadbench", "college_math", "svamp", "asdiv", "gaokao2023en", "sat_math", "mawps", "math500", "math"];

    public static IEnumerable<Problem> Load(string path, string set)
    {
        if (!Sets.Contains(set)) throw new StepDpo.Core.StepDpoException($"unknown Qwen2.5-Math evaluation set '{set}' (known: {string.Join(", ", Sets)})");
        var source = "qwen25:" + set;
        if (set == "gsm8k")
        {
            foreach (var p in Gsm8kLoader.Load(path)) yield return p with { Source = source };
            yield break;
        }
        foreach (var r in Jsonl.Read(path))
        {
            var id = r.Text("idx") ?? r.Text("id") ?? r.Text("ID") ?? $"{set}-{r.Line}";
            yield return set switch
            {
                "minerva_math" or "math500" or "math" => Minerva(r, id, source),
                "svamp" => new Problem(id, Join(r.Required("Body"), r.Required("Question")), r.Required("Answer"), r.Text("Equation"), Subject: r.Text("Type"), Source: source),
                "asdiv" => new Problem(id, Join(r.Required("body"), r.Required("question")), Parenthesised().Replace(r.Required("answer"), "").Trim(), r.Text("formula"), Subject: r.Text("solution_type"), Source: source),
                "mawps" => new Problem(id, r.Required("input"), r.Required("target"), Subject: r.Text("type"), Source: source),
                "sat_math" => new Problem(id, r.Required("question") + "\nAnswer Choices: " + r.Required("options"), r.Required("Answer"), Source: source),
                "olympiadbench" => Olympiad(r, id, source),
                "college_math" => new Problem(id, r.Required("question"), StripDollars(r.Required("answer")), Subject: r.Text("data_topic"), Source: source),
                _ => new Problem(id, r.Text("question") ?? r.Required("problem"), StripDollars(r.Required("answer")), r.Text("solution"), Source: source),
            };
        }
    }

    private static Problem Minerva(JsonRecord r, string id, string source)
    {
        var solution = r.Text("solution") ?? r.Text("answer") ?? throw r.Error("missing field 'solution'");
        var answer = r.Text("answer") is { } a && !a.Contains("\\boxed") ? a : AnswerExtractor.LastBoxed(solution)
                     ?? throw r.Error("no \\boxed{} answer in 'solution'");
        return new Problem(id, r.Text("problem") ?? r.Required("question"), answer, solution, r.Text("level"), r.Text("type") ?? r.Text("subject"), source);
    }

    private static Problem Olympiad(JsonRecord r, string id, string source)
    {
        if (!r.Root.TryGetProperty("final_answer", out var fa) || fa.ValueKind != JsonValueKind.Array || fa.GetArrayLength() == 0)
            throw r.Error("field 'final_answer' must be a non-empty list");
        var answer = StripDollars(JsonRecord.AsText(fa[0]) ?? "");
        string? solution = r.Root.TryGetProperty("solution", out var s) && s.ValueKind == JsonValueKind.Array && s.GetArrayLength() > 0
            ? JsonRecord.AsText(s[0]) : r.Text("solution");
        var question = r.Required("question");
        if (r.Text("context") is { Length: > 0 } context) question = context + "\n" + question;
        return new Problem(id, question, answer, solution, Subject: r.Text("subfield"), Source: source);
    }

    private static string Join(string body, string question) =>
        body.TrimEnd().EndsWith('.') ? body.TrimEnd() + " " + question.Trim() : body.TrimEnd() + ". " + question.Trim();

    private static string StripDollars(string s) => s.Trim().Trim('$').Trim();

    [GeneratedRegex(@"\(.*?\)")]
    private static partial Regex Parenthesised();
}
