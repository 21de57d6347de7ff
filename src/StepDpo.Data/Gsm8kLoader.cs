using System.Text.Json;
using StepDpo.Answers;

namespace StepDpo.Data;

/// <summary>GSM8K in either layout: Hugging Face (question, answer ending "#### 18") or the Step-DPO
/// evaluation copy (idx, instruction, output, answer: ["18"]).</summary>
internal static class Gsm8kLoader
{
    public static IEnumerable<Problem> Load(string path)
    {
        foreach (var r in Jsonl.Read(path))
        {
            if (r.Root.TryGetProperty("instruction", out _))
            {
                var answer = r.Root.TryGetProperty("answer", out var a) && a.ValueKind == JsonValueKind.Array && a.GetArrayLength() > 0
                    ? JsonRecord.AsText(a[0]) : null;
                var output = r.Text("output");
                answer ??= output is null ? null : FinalAfterHashes(output);
                if (string.IsNullOrWhiteSpace(answer)) throw r.Error("no gold answer: field 'answer' (a list) is empty and 'output' has no '####'");
                yield return new Problem(r.Text("idx") ?? $"gsm8k-{r.Line}", r.Required("instruction"), answer, output, Source: "gsm8k");
            }
            else
            {
                var solution = r.Required("answer");
                var answer = FinalAfterHashes(solution) ?? throw r.Error("field 'answer' has no '#### <number>' line");
                yield return new Problem(r.Text("idx") ?? r.Text("id") ?? $"gsm8k-{r.Line}", r.Required("question"), answer, solution, Source: "gsm8k");
            }
        }
    }

    /// <summary>"... #### 1,234" gives "1234".</summary>
    public static string? FinalAfterHashes(string solution)
    {
        var answer = AnswerExtractor.Extract(solution, new ExtractionOrder([ExtractionRule.Gsm8kHashes]));
        return answer?.Replace(",", "").Trim();
    }
}
