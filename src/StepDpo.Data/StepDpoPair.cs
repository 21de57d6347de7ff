using System.Text.Json;
using System.Text.Json.Serialization;

namespace StepDpo.Data;

/// <summary>One step-level preference pair in the public Step-DPO format (xinlai/Math-Step-DPO-10K):
/// the problem, the correct steps so far (ending with the "Step k:" label), the preferred and the
/// dispreferred step k, the full solutions they come from, the gold answer and the source set.</summary>
public sealed record StepDpoPair(
    [property: JsonPropertyName("prompt")] string Prompt,
    [property: JsonPropertyName("initial_reason_steps")] string InitialReasonSteps,
    [property: JsonPropertyName("chosen")] string Chosen,
    [property: JsonPropertyName("rejected")] string Rejected,
    [property: JsonPropertyName("full_chosen")] string FullChosen,
    [property: JsonPropertyName("full_rejected")] string FullRejected,
    [property: JsonPropertyName("answer")] string Answer,
    [property: JsonPropertyName("dataset")] string Dataset);

/// <summary>Reads and writes pair files: JSON Lines (one pair per line; ".json" holding an array is
/// read too). Every field is required and must be a string; errors name file, line and field.</summary>
public static class PairFile
{
    private static readonly string[] Fields =
        ["prompt", "initial_reason_steps", "chosen", "rejected", "full_chosen", "full_rejected", "answer", "dataset"];

    private static readonly JsonSerializerOptions WriteOptions = new()
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static IEnumerable<StepDpoPair> Read(string path)
    {
        foreach (var r in Jsonl.Read(path))
        {
            var values = new string[Fields.Length];
            for (int i = 0; i < Fields.Length; i++)
            {
                if (!r.Root.TryGetProperty(Fields[i], out var v))
                    throw r.Error($"missing field '{Fields[i]}' (a Step-DPO pair has {string.Join(", ", Fields)})");
                if (v.ValueKind != JsonValueKind.String) throw r.Error($"field '{Fields[i]}' must be a string, found {v.ValueKind}");
                values[i] = v.GetString()!;
            }
            yield return new StepDpoPair(values[0], values[1], values[2], values[3], values[4], values[5], values[6], values[7]);
        }
    }

    /// <summary>Writes atomically, so a crash never leaves half a file.</summary>
    public static void Write(string path, IEnumerable<StepDpoPair> pairs) =>
        Core.Artifacts.AtomicFile.WriteLines(path, pairs.Select(p => JsonSerializer.Serialize(p, WriteOptions)));
}
