using System.Globalization;
using System.Text.Json;

namespace StepDpo.Torch.Training;

/// <summary>What one optimiser step (or one evaluation) reports. <see cref="Values"/> uses TRL's names (loss,
/// rewards/chosen, ..., grad_norm, learning_rate) plus tokens_per_second; evaluation values carry the eval_ prefix.
/// <see cref="Eta"/> extrapolates the mean step time of this run over the remaining steps.</summary>
public sealed record StepMetrics(int Step, int TotalSteps, double Epoch, IReadOnlyDictionary<string, double> Values,
    TimeSpan Elapsed, TimeSpan Eta, bool IsEval = false)
{
    /// <summary>A value by name, NaN when this row does not log it (an evaluation row has eval_loss, not loss), so a
    /// progress renderer can index every row without checking <see cref="IsEval"/>.</summary>
    public double this[string name] => Values.TryGetValue(name, out var v) ? v : double.NaN;
}

/// <summary>
/// metrics.jsonl (one JSON object per step or evaluation) and metrics.csv (fixed columns, empty where a row has no
/// value) in the stage directory. On resume the rows after the resumed step are dropped, so the files read as if the
/// run had never stopped.
/// </summary>
public sealed class MetricsLog
{
    public const string JsonlName = "metrics.jsonl";
    public const string CsvName = "metrics.csv";
    readonly string jsonl, csv;
    readonly string[] columns;
    readonly List<Dictionary<string, double>> kept;

    public MetricsLog(string directory, IEnumerable<string> trainNames, IEnumerable<string> evalNames, int resumeStep)
    {
        jsonl = Path.Combine(directory, JsonlName);
        csv = Path.Combine(directory, CsvName);
        columns = ["step", "epoch", .. trainNames, .. evalNames];
        kept = resumeStep > 0 ? ReadJsonl(jsonl).Where(r => (int)r["step"] <= resumeStep).ToList() : [];
        File.WriteAllLines(jsonl, kept.Select(r => JsonSerializer.Serialize(r)));
        File.WriteAllLines(csv, [string.Join(",", columns), .. kept.Select(CsvRow)]);
    }

    /// <summary>The last training (or evaluation) row kept from before a resume, as the step that logged it: a run
    /// resumed after its last step reports the same final metrics as one that never stopped.</summary>
    public StepMetrics? LastKept(bool eval, int totalSteps)
    {
        var row = kept.LastOrDefault(r => r.Keys.Any(k => k.StartsWith("eval_")) == eval);
        if (row is null) return null;
        var values = row.Where(kv => kv.Key is not ("step" or "epoch")).ToDictionary(kv => kv.Key, kv => kv.Value);
        return new StepMetrics((int)row["step"], totalSteps, row["epoch"], values, TimeSpan.Zero, TimeSpan.Zero, eval);
    }

    public void Append(StepMetrics m)
    {
        var row = new Dictionary<string, double> { ["step"] = m.Step, ["epoch"] = Math.Round(m.Epoch, 6) };
        foreach (var (k, v) in m.Values) row[k] = v;
        File.AppendAllLines(jsonl, [JsonSerializer.Serialize(row, JsonOptions)]);
        File.AppendAllLines(csv, [CsvRow(row)]);
    }

    static readonly JsonSerializerOptions JsonOptions = new() { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    string CsvRow(IReadOnlyDictionary<string, double> row) =>
        string.Join(",", columns.Select(c => row.TryGetValue(c, out var v) ? v.ToString("R", CultureInfo.InvariantCulture) : ""));

    /// <summary>Reads a metrics.jsonl back (for plots and resumption).</summary>
    public static List<Dictionary<string, double>> ReadJsonl(string path) =>
        !File.Exists(path) ? [] : File.ReadLines(path).Where(l => l.Length > 0)
            .Select(l => JsonSerializer.Deserialize<Dictionary<string, double>>(l, JsonOptions)!).ToList();
}
