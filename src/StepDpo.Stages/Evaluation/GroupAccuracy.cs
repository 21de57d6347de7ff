using System.Text.Json.Serialization;

namespace StepDpo.Stages.Evaluation;

/// <summary>Accuracy of one group of problems (a MATH level, a subject).</summary>
public sealed record GroupStat(
    [property: JsonPropertyName("n")] int N,
    [property: JsonPropertyName("correct")] int Correct,
    [property: JsonPropertyName("accuracy")] double Accuracy);

public static class GroupAccuracy
{
    /// <summary>Accuracy per group key; items whose key is null or empty are left out (e.g. GSM8K has no
    /// level). Keys are sorted ordinally so the output is stable.</summary>
    public static SortedDictionary<string, GroupStat> Compute<T>(IEnumerable<T> items, Func<T, string?> key, Func<T, bool> correct)
    {
        var counts = new SortedDictionary<string, (int N, int Correct)>(StringComparer.Ordinal);
        foreach (var item in items)
        {
            if (key(item) is not { Length: > 0 } k) continue;
            counts.TryGetValue(k, out var c);
            counts[k] = (c.N + 1, c.Correct + (correct(item) ? 1 : 0));
        }
        var result = new SortedDictionary<string, GroupStat>(StringComparer.Ordinal);
        foreach (var (k, c) in counts) result[k] = new GroupStat(c.N, c.Correct, (double)c.Correct / c.N);
        return result;
    }
}
