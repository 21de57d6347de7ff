using StepDpo.Core;
using StepDpo.Answers;

namespace StepDpo.Data;

/// <summary>Any JSONL (or JSON array) file, with its field names given in the manifest:
/// question (required), answer or solution (one required; a solution alone gives its last
/// \boxed{} as the answer), id, level, subject. An answer given as a list of strings (the Step-DPO reference's
/// GSM8K/MATH test files: "answer": ["18"]) is its one element, or its elements joined by ", ".</summary>
internal static class MappedJsonlLoader
{
    private static readonly string[] Keys = ["id", "question", "answer", "solution", "level", "subject"];

    public static IEnumerable<Problem> Load(string path, IReadOnlyDictionary<string, string>? fields)
    {
        fields ??= new Dictionary<string, string>();
        foreach (var key in fields.Keys)
            if (!Keys.Contains(key)) throw new StepDpoException($"data fields: unknown key '{key}' (known: {string.Join(", ", Keys)})");
        string F(string key) => fields.TryGetValue(key, out var name) ? name : key;
        foreach (var r in Jsonl.Read(path))
        {
            var solution = r.Text(F("solution"));
            var answer = ListOrText(r, F("answer"));
            if (answer is null && fields.ContainsKey("solution") && solution is not null) answer = AnswerExtractor.LastBoxed(solution);
            if (answer is null) throw r.Error($"missing field '{F("answer")}' (the gold answer; map it with fields.answer, or map fields.solution to take its last \\boxed{{}})");
            yield return new Problem(r.Text(F("id")) ?? $"{Path.GetFileNameWithoutExtension(path)}-{r.Line}",
                r.Required(F("question")), answer.Trim(), solution, r.Text(F("level")), r.Text(F("subject")), "jsonl");
        }
    }

    static string? ListOrText(JsonRecord r, string field)
    {
        if (!r.Root.TryGetProperty(field, out var v) || v.ValueKind != System.Text.Json.JsonValueKind.Array) return r.Text(field);
        var items = v.EnumerateArray().Select(JsonRecord.AsText).Where(t => !string.IsNullOrWhiteSpace(t)).ToList();
        return items.Count == 0 ? null : string.Join(", ", items);
    }
}
