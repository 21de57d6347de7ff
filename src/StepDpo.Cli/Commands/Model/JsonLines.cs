using System.Text.Json;
using StepDpo.Core;

namespace StepDpo.Cli.Commands.Model;

/// <summary>JSONL input with errors that name file, line and key; output written to a .partial file and renamed,
/// so an interrupted run never leaves a complete-looking output.</summary>
static class JsonLines
{
    public static List<(int Line, JsonElement Value)> Read(string path)
    {
        if (!File.Exists(path)) throw new StepDpoException($"{path}: input file not found");
        var rows = new List<(int, JsonElement)>();
        int number = 0;
        foreach (var line in File.ReadLines(path))
        {
            number++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                using var doc = JsonDocument.Parse(line);
                if (doc.RootElement.ValueKind != JsonValueKind.Object)
                    throw new StepDpoException($"{path}:{number}: expected a JSON object");
                rows.Add((number, doc.RootElement.Clone()));
            }
            catch (JsonException e) { throw new StepDpoException($"{path}:{number}: not valid JSON ({e.Message})", e); }
        }
        return rows;
    }

    public static string String(JsonElement row, string key, string path, int line) =>
        row.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()!
            : throw new StepDpoException($"{path}:{line}: key '{key}': expected a string");

    public static void Write(string path, IEnumerable<string> lines) => Core.Artifacts.AtomicFile.WriteLines(path, lines);

    public static readonly JsonSerializerOptions Options = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
