using System.Text.Json;
using StepDpo.Core;

namespace StepDpo.Data;

/// <summary>A data-file error: the message names the file, the line and the field.</summary>
public sealed class DataFormatException(string file, int line, string message)
    : StepDpoException($"{file}:{line}: {message}")
{
    public string File { get; } = file;
    public int Line { get; } = line;
}

/// <summary>One parsed JSON object with its location, for errors that point at the line.</summary>
public readonly record struct JsonRecord(string File, int Line, JsonElement Root)
{
    public DataFormatException Error(string message) => new(File, Line, message);

    /// <summary>A field as text: strings as they are, numbers in their shortest form ("27.0" is "27"),
    /// booleans as true/false; null when absent or JSON null.</summary>
    public string? Text(string field) => Root.TryGetProperty(field, out var v) ? AsText(v) : null;

    public string Required(string field) =>
        Text(field) ?? throw Error($"missing field '{field}' (fields present: {string.Join(", ", Fields())})");

    public IEnumerable<string> Fields() => Root.EnumerateObject().Select(p => p.Name);

    public static string? AsText(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.String => v.GetString(),
        JsonValueKind.Number => NumberText(v),
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        JsonValueKind.Null or JsonValueKind.Undefined => null,
        _ => v.GetRawText(),
    };

    private static string NumberText(JsonElement v)
    {
        var raw = v.GetRawText();
        if (raw.Contains('e') || raw.Contains('E')) return raw;
        if (raw.Contains('.')) raw = raw.TrimEnd('0').TrimEnd('.');
        return raw;
    }
}

/// <summary>Streams a JSON Lines file one object at a time (blank lines skipped); a line that is
/// not a JSON object is an error naming file and line. A ".json" file holding one array is read
/// the same way (its elements numbered as lines), and so is a ".parquet" file (its rows numbered as lines).</summary>
public static class Jsonl
{
    public static IEnumerable<JsonRecord> Read(string path)
    {
        if (!System.IO.File.Exists(path)) throw new StepDpoException($"{path}: file not found");
        if (path.EndsWith(".json", StringComparison.OrdinalIgnoreCase)) return ReadArray(path);
        if (path.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase)) return ParquetRecords.Read(path);
        return ReadLines(path);
    }

    private static IEnumerable<JsonRecord> ReadLines(string path)
    {
        int lineNo = 0;
        foreach (var line in System.IO.File.ReadLines(path))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonDocument doc;
            try { doc = JsonDocument.Parse(line); }
            catch (JsonException e) { throw new DataFormatException(path, lineNo, $"not valid JSON ({e.Message})"); }
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new DataFormatException(path, lineNo, $"expected a JSON object, found {doc.RootElement.ValueKind}");
            yield return new JsonRecord(path, lineNo, doc.RootElement);
        }
    }

    private static IEnumerable<JsonRecord> ReadArray(string path)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(System.IO.File.ReadAllText(path)); }
        catch (JsonException e) { throw new DataFormatException(path, (int)(e.LineNumber ?? 0) + 1, $"not valid JSON ({e.Message})"); }
        if (doc.RootElement.ValueKind == JsonValueKind.Object)
        {
            yield return new JsonRecord(path, 1, doc.RootElement);
            yield break;
        }
        if (doc.RootElement.ValueKind != JsonValueKind.Array)
            throw new DataFormatException(path, 1, "expected a JSON array of objects or one object");
        int i = 0;
        foreach (var e in doc.RootElement.EnumerateArray())
        {
            i++;
            if (e.ValueKind != JsonValueKind.Object) throw new DataFormatException(path, i, $"array element {i} is not an object");
            yield return new JsonRecord(path, i, e);
        }
    }
}
