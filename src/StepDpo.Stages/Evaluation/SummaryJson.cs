using System.Text.Encodings.Web;
using System.Text.Json;
using StepDpo.Core;

namespace StepDpo.Stages.Evaluation;

/// <summary>Reads and writes summary.json.</summary>
public static class SummaryJson
{
    private static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        RespectNullableAnnotations = true,
        RespectRequiredConstructorParameters = true,
    };

    public static string Serialize(EvalSummary summary) => JsonSerializer.Serialize(summary, Options);

    /// <summary>Writes atomically.</summary>
    public static void Write(string path, EvalSummary summary) => Core.Artifacts.AtomicFile.WriteAllText(path, Serialize(summary) + "\n");

    public static EvalSummary Read(string path)
    {
        if (!File.Exists(path)) throw new StepDpoException($"{path}: summary file not found");
        try
        {
            var summary = JsonSerializer.Deserialize<EvalSummary>(File.ReadAllText(path), Options)
                          ?? throw new StepDpoException($"{path}: summary is null");
            for (int i = 0; i < summary.Results.Count; i++)
                if (summary.Results[i].Ci95 is not [var lo, var hi] || lo > hi)
                    throw new StepDpoException($"{path}: results[{i}].ci95 must be [lo, hi] with lo <= hi");
            return summary;
        }
        catch (JsonException ex)
        {
            throw new StepDpoException($"{path}:{(ex.LineNumber ?? 0) + 1}: invalid summary at '{ex.Path}': {ex.Message}", ex);
        }
    }
}
