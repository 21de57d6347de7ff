using System.Globalization;
using System.Text;
using System.Text.Json;

namespace StepDpo.Torch.Training.Trl;

/// <summary>The YAML subset the exported configs need: nested mappings, flow lists, and scalars PyYAML reads back as
/// the types TRL's parsers expect.</summary>
public static class TrlYaml
{
    public static string Write(IEnumerable<(string Key, object Value)> entries, int indent = 0)
    {
        var sb = new StringBuilder();
        string pad = new(' ', indent);
        foreach (var (key, value) in entries)
        {
            if (value is List<(string, object)> nested) sb.Append(pad).Append(key).Append(":\n").Append(Write(nested, indent + 2));
            else if (value is System.Collections.IEnumerable list and not string)
                sb.Append(pad).Append(key).Append(": [").Append(string.Join(", ", list.Cast<object>().Select(Scalar))).Append("]\n");
            else sb.Append(pad).Append(key).Append(": ").Append(Scalar(value)).Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>Top-level keys of a file <see cref="Write"/> produced (for the field check).</summary>
    public static IEnumerable<string> TopLevelKeys(string yaml) =>
        yaml.Split('\n').Where(l => l.Length > 0 && l[0] is not (' ' or '#')).Select(l => l[..l.IndexOf(':')]);

    static string Scalar(object value) => value switch
    {
        bool b => b ? "true" : "false",
        // Always with a dot and a signed exponent: PyYAML reads "5E-07" or "1" as a string or an int, not a float.
        double d => Math.Abs(d) is 0 or (>= 1e-4 and < 1e15)
            ? d.ToString("0.0###############", CultureInfo.InvariantCulture)
            : d.ToString("0.0###############e+00", CultureInfo.InvariantCulture),
        int i => i.ToString(CultureInfo.InvariantCulture),
        string s => JsonSerializer.Serialize(s), // a JSON string is a valid YAML double-quoted scalar
        _ => throw new ArgumentException($"no YAML form for {value.GetType()}"),
    };
}
