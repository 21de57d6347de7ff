using System.Text.Json;
using StepDpo.Core;

namespace StepDpo.Stages.Report;

/// <summary>One row of a trainer's metrics.jsonl: the optimizer step and the numeric values logged at it
/// (TRL names: loss, rewards/margins, rewards/accuracies, rewards/chosen, learning_rate, ...).</summary>
public sealed record MetricsRow(int Step, IReadOnlyDictionary<string, double> Values);

public static class TrainingMetrics
{
    public const string Loss = "loss";
    public const string RewardMargins = "rewards/margins";
    public const string RewardAccuracies = "rewards/accuracies";

    /// <summary>Reads metrics.jsonl. Every line is an object with an integer "step"; numeric fields are kept,
    /// other fields (strings, nulls, nested objects) are ignored. Blank lines are skipped.</summary>
    public static List<MetricsRow> Read(string path)
    {
        if (!File.Exists(path)) throw new StepDpoException($"{path}: metrics file not found");
        var rows = new List<MetricsRow>();
        int lineNo = 0;
        foreach (string line in File.ReadLines(path))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                using var doc = JsonDocument.Parse(line);
                if (doc.RootElement.ValueKind != JsonValueKind.Object)
                    throw new StepDpoException($"{path}:{lineNo}: expected a JSON object");
                if (!doc.RootElement.TryGetProperty("step", out var step) || !step.TryGetInt32(out int s))
                    throw new StepDpoException($"{path}:{lineNo}: key 'step' missing or not an integer");
                var values = new Dictionary<string, double>(StringComparer.Ordinal);
                foreach (var p in doc.RootElement.EnumerateObject())
                    if (p.Name != "step" && p.Value.ValueKind == JsonValueKind.Number) values[p.Name] = p.Value.GetDouble();
                rows.Add(new MetricsRow(s, values));
            }
            catch (JsonException ex)
            {
                throw new StepDpoException($"{path}:{lineNo}: not valid JSON: {ex.Message}", ex);
            }
        }
        return rows;
    }

    /// <summary>(step, value) of every row that logged <paramref name="key"/>, in step order.</summary>
    public static (double[] Steps, double[] Values) Series(IEnumerable<MetricsRow> rows, string key)
    {
        var points = rows.Where(r => r.Values.ContainsKey(key)).OrderBy(r => r.Step).ToList();
        return (points.Select(r => (double)r.Step).ToArray(), points.Select(r => r.Values[key]).ToArray());
    }

    /// <summary>The first logged value of each key (the state at the start of training).</summary>
    public static SortedDictionary<string, double> First(IEnumerable<MetricsRow> rows)
    {
        var first = new SortedDictionary<string, double>(StringComparer.Ordinal);
        foreach (var r in rows.OrderBy(r => r.Step))
            foreach (var (k, v) in r.Values) first.TryAdd(k, v);
        return first;
    }

    /// <summary>The last logged value of each key (the state at the end of training).</summary>
    public static SortedDictionary<string, double> Final(IEnumerable<MetricsRow> rows)
    {
        var last = new SortedDictionary<string, double>(StringComparer.Ordinal);
        foreach (var r in rows.OrderBy(r => r.Step))
            foreach (var (k, v) in r.Values) last[k] = v;
        return last;
    }
}
