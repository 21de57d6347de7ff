using StepDpo.Answers;

namespace StepDpo.Data;

/// <summary>MATH in its layouts: Hugging Face rows (problem, solution, level, type), MATH-500
/// (problem, solution, answer, subject, level, unique_id; or the local copy's question + full
/// solution in answer), as JSONL/JSON files, or the original per-problem JSON folder tree
/// (test/algebra/1.json ...). The gold answer is the "answer" field when it is a final answer,
/// else the last \boxed{} of the solution.</summary>
internal static class MathLoader
{
    public static IEnumerable<Problem> Load(string path, string source)
    {
        if (Directory.Exists(path))
        {
            // Ordinal order of relative paths: the same problems in the same order on every machine.
            var files = Directory.EnumerateFiles(path, "*.json", SearchOption.AllDirectories)
                .OrderBy(f => Path.GetRelativePath(path, f), StringComparer.Ordinal);
            foreach (var file in files)
                foreach (var r in Jsonl.Read(file))
                    yield return FromRecord(r, source, Path.GetRelativePath(path, file).Replace('\\', '/').Replace(".json", ""));
            yield break;
        }
        foreach (var r in Jsonl.Read(path)) yield return FromRecord(r, source, null);
    }

    private static Problem FromRecord(JsonRecord r, string source, string? fileId)
    {
        var question = r.Text("problem") ?? r.Text("question") ?? throw r.Error("missing field 'problem' (or 'question')");
        var solution = r.Text("solution");
        var answerField = r.Text("answer");
        // The local MATH-500 copy keeps the full solution in "answer".
        if (solution is null && answerField is not null && answerField.Contains("\\boxed", StringComparison.Ordinal))
        {
            solution = answerField;
            answerField = null;
        }
        var answer = answerField ?? (solution is null ? null : AnswerExtractor.LastBoxed(solution))
                     ?? throw r.Error("no gold answer: no 'answer' field and no \\boxed{} in 'solution'");
        var id = r.Text("unique_id") ?? r.Text("id") ?? fileId ?? $"{source}-{r.Line}";
        return new Problem(id, question, answer.Trim(), solution, r.Text("level"), r.Text("type") ?? r.Text("subject"), source);
    }
}
