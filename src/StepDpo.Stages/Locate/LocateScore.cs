using System.Globalization;
using System.Text;
using System.Text.Json.Serialization;

namespace StepDpo.Stages.Locate;

/// <summary>One solution, scored: its first wrong step by the source of truth (1-based; null when every step is right),
/// the locator's answer, and what asking cost.</summary>
/// <param name="Predicted">the locator's first wrong step; null when it found none or gave no verdict</param>
/// <param name="Abstained">no verdict: rollouts found the problem unsolved from the start, a judge stayed unreadable</param>
/// <param name="Cost">rollouts sampled or judge calls made for this solution</param>
public sealed record LocateCase(int? Truth, int? Predicted, bool Abstained = false, double Cost = 0);

/// <summary>
/// How a first-error locator did against a source of truth. On solutions with an error: located exactly, too early (a
/// right step blamed), too late (the first error passed), or missed (no step named). On solutions without one: cleared
/// or a false alarm. ProcessBench's F1 (Zheng et al. 2024) is the harmonic mean of the accuracy on the solutions with
/// an error (the exact earliest step) and on those without (saying there is none). Cost is per located error (any step
/// named on an erroneous solution) and per exactly located one.
/// </summary>
public sealed record LocateSummary(
    [property: JsonPropertyName("locator")] string Locator,
    [property: JsonPropertyName("truth")] string Truth,
    [property: JsonPropertyName("cost_unit")] string CostUnit,
    [property: JsonPropertyName("errors")] int Errors,
    [property: JsonPropertyName("exact")] int Exact,
    [property: JsonPropertyName("early")] int Early,
    [property: JsonPropertyName("late")] int Late,
    [property: JsonPropertyName("missed")] int Missed,
    [property: JsonPropertyName("correct")] int Correct,
    [property: JsonPropertyName("cleared")] int Cleared,
    [property: JsonPropertyName("false_alarms")] int FalseAlarms,
    [property: JsonPropertyName("abstained")] int Abstained,
    [property: JsonPropertyName("cost")] double Cost)
{
    [JsonPropertyName("error_accuracy")] public double? ErrorAccuracy => Errors == 0 ? null : (double)Exact / Errors;
    [JsonPropertyName("correct_accuracy")] public double? CorrectAccuracy => Correct == 0 ? null : (double)Cleared / Correct;

    /// <summary>ProcessBench's F1; null unless both kinds of solution were scored.</summary>
    [JsonPropertyName("f1")]
    public double? F1 => ErrorAccuracy is double a && CorrectAccuracy is double c ? (a + c == 0 ? 0 : 2 * a * c / (a + c)) : null;

    [JsonPropertyName("cost_per_located_error")]
    public double? CostPerLocatedError => Exact + Early + Late == 0 ? null : Cost / (Exact + Early + Late);

    [JsonPropertyName("cost_per_exact")] public double? CostPerExact => Exact == 0 ? null : Cost / Exact;

    public static LocateSummary Score(string locator, string truth, string costUnit, IEnumerable<LocateCase> cases)
    {
        int errors = 0, exact = 0, early = 0, late = 0, missed = 0, correct = 0, cleared = 0, alarms = 0, abstained = 0;
        double cost = 0;
        foreach (var c in cases)
        {
            cost += c.Cost;
            if (c.Abstained) abstained++;
            if (c.Truth is int t)
            {
                errors++;
                if (c.Predicted is not int p) missed++;
                else if (p == t) exact++;
                else if (p < t) early++;
                else late++;
            }
            else
            {
                correct++;
                if (c.Predicted is not null) alarms++;
                else if (!c.Abstained) cleared++;
            }
        }
        return new LocateSummary(locator, truth, costUnit, errors, exact, early, late, missed, correct, cleared, alarms, abstained, cost);
    }
}

/// <summary>The "How good was the locator" table of the report and of `stepdpo locate`.</summary>
public static class LocateTable
{
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static string Markdown(IReadOnlyList<LocateSummary> rows)
    {
        var md = new StringBuilder();
        md.AppendLine("| locator | truth | with an error | exact | too early | too late | missed | without one | cleared | F1 | cost | per located error | per exact |");
        md.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in rows)
            md.AppendLine(string.Join(" | ", new[]
            {
                "| " + r.Locator, r.Truth, Int(r.Errors), Share(r.Exact, r.Errors), Share(r.Early, r.Errors), Share(r.Late, r.Errors),
                Share(r.Missed, r.Errors), Int(r.Correct), Share(r.Cleared, r.Correct), r.F1 is double f ? f.ToString("0.000", Inv) : "–",
                $"{Num(r.Cost)} {r.CostUnit}", Num(r.CostPerLocatedError), Num(r.CostPerExact) + " |",
            }));
        return md.ToString();
    }

    static string Int(int x) => x.ToString("N0", Inv);
    static string Share(int part, int whole) => whole == 0 ? "–" : $"{Int(part)} ({((double)part / whole * 100).ToString("0.0", Inv)}%)";
    static string Num(double? x) => x is double v ? v.ToString(v >= 100 ? "N0" : "0.#", Inv) : "–";
}
