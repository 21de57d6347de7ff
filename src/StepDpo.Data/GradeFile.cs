using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using StepDpo.Core;
using StepDpo.Answers;

namespace StepDpo.Data;

/// <summary>Totals of one grading run; <see cref="Disagreements"/> counts lines where the other
/// grader (when asked for) reached the opposite verdict.</summary>
public sealed record GradeSummary(int Lines, int Correct, int NoAnswer, int Disagreements)
{
    public double Accuracy => Lines == 0 ? 0 : (double)Correct / Lines;
}

/// <summary>The `grade` contract: each input line {"prediction": full response, "answer": gold}
/// comes out as the same object plus "extracted" and "correct" (existing fields and their order kept).</summary>
public static class GradeFile
{
    private static readonly JsonSerializerOptions Compact = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <param name="compareWith">another grader; lines where its verdict differs are written to
    /// <paramref name="disagreementsPath"/> (prediction, answer, extracted, both verdicts).</param>
    public static GradeSummary Run(string inputPath, string outputPath, string grader = "stepdpo", ExtractionOrder? order = null,
        string? compareWith = null, string? disagreementsPath = null)
    {
        try { Grading.ValidateGrader(grader); if (compareWith is not null) Grading.ValidateGrader(compareWith); }
        catch (ArgumentException e) { throw new StepDpoException(e.Message); }
        if (!File.Exists(inputPath)) throw new StepDpoException($"{inputPath}: file not found");
        int lines = 0, correct = 0, none = 0, disagree = 0;
        Core.Artifacts.AtomicFile.WriteText(outputPath, writer =>
        {
            using var diffs = disagreementsPath is null ? null : new StreamWriter(disagreementsPath, false, new System.Text.UTF8Encoding(false)) { NewLine = "\n" };
            int lineNo = 0;
            foreach (var line in File.ReadLines(inputPath))
            {
                lineNo++;
                if (string.IsNullOrWhiteSpace(line)) continue;
                var obj = ParseObject(inputPath, lineNo, line);
                var prediction = Field(obj, "prediction", inputPath, lineNo);
                var gold = Field(obj, "answer", inputPath, lineNo);
                var result = Grading.Grade(prediction, gold, grader, order);
                obj["extracted"] = result.Extracted;
                obj["correct"] = result.Correct;
                writer.WriteLine(obj.ToJsonString(Compact));
                lines++;
                if (result.Correct) correct++;
                if (result.Extracted is null) none++;
                if (compareWith is not null && result.Extracted is not null
                    && Grading.AnswersEqual(result.Extracted, gold, compareWith) != result.Correct)
                {
                    disagree++;
                    diffs?.WriteLine(new JsonObject
                    {
                        ["line"] = lineNo, ["extracted"] = result.Extracted, ["answer"] = gold,
                        [grader] = result.Correct, [compareWith] = !result.Correct,
                    }.ToJsonString(Compact));
                }
            }
        });
        return new GradeSummary(lines, correct, none, disagree);
    }

    private static JsonObject ParseObject(string path, int line, string text)
    {
        try
        {
            return JsonNode.Parse(text) as JsonObject ?? throw new DataFormatException(path, line, "expected a JSON object");
        }
        catch (JsonException e) { throw new DataFormatException(path, line, $"not valid JSON ({e.Message})"); }
    }

    /// <summary>A string field, or a number/boolean written as text (gold answers are often numbers).</summary>
    private static string Field(JsonObject obj, string name, string path, int line)
    {
        if (!obj.TryGetPropertyValue(name, out var node) || node is null)
            throw new DataFormatException(path, line, $"missing field '{name}' (each line needs \"prediction\" and \"answer\")");
        return node.GetValueKind() switch
        {
            JsonValueKind.String => node.GetValue<string>(),
            JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => JsonRecord.AsText(JsonDocument.Parse(node.ToJsonString()).RootElement)!,
            JsonValueKind.Array when node.AsArray().Count > 0 && node.AsArray()[0] is JsonValue v => v.ToString(),
            var kind => throw new DataFormatException(path, line, $"field '{name}' must be a string, found {kind}"),
        };
    }
}
