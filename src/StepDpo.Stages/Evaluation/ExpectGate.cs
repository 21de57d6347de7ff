using System.Globalization;
using Spectre.Console;
using StepDpo.Core;

namespace StepDpo.Stages.Evaluation;

/// <summary>One requirement on a summary metric: min &lt;= actual &lt;= max, and/or |actual - value| &lt;= tolerance.</summary>
public sealed record Expectation(string Metric, double? Min = null, double? Max = null, double? Value = null, double? Tolerance = null)
{
    /// <summary>Rejects expectations that require nothing or are self-contradictory; <paramref name="where"/>
    /// (e.g. "manifest.yaml:42") prefixes the message.</summary>
    public void Validate(string where = "expect")
    {
        string at = $"{where}: expect '{Metric}'";
        if (Min is null && Max is null && Value is null) throw new StepDpoException($"{at}: give at least one of min, max, value");
        if (Tolerance is not null && Value is null) throw new StepDpoException($"{at}: tolerance needs a value");
        if (Tolerance is < 0) throw new StepDpoException($"{at}: tolerance must be >= 0 (got {Tolerance})");
        if (Min is double lo && Max is double hi && lo > hi) throw new StepDpoException($"{at}: min {lo} is above max {hi}");
        MetricPath.Validate(Metric, where);
    }

    /// <summary>Builds an expectation from the keys of a manifest entry (min, max, value, tolerance),
    /// rejecting any other key so a typo such as "mni" is not silently ignored.</summary>
    public static Expectation FromFields(string metric, IReadOnlyDictionary<string, double> fields, string where = "expect")
    {
        string[] known = ["min", "max", "value", "tolerance"];
        foreach (var key in fields.Keys)
            if (!known.Contains(key))
                throw new StepDpoException($"{where}: expect '{metric}': unknown key '{key}'; known: {string.Join(", ", known)}");
        double? Get(string k) => fields.TryGetValue(k, out var v) ? v : null;
        var e = new Expectation(metric, Get("min"), Get("max"), Get("value"), Get("tolerance"));
        e.Validate(where);
        return e;
    }

    public string Requirement
    {
        get
        {
            var parts = new List<string>();
            if (Min is double lo) parts.Add($">= {F(lo)}");
            if (Max is double hi) parts.Add($"<= {F(hi)}");
            if (Value is double v) parts.Add(Tolerance is double t and > 0 ? $"= {F(v)} ± {F(t)}" : $"= {F(v)}");
            return string.Join(" and ", parts);
        }
    }

    public bool IsMetBy(double actual) =>
        !double.IsNaN(actual)
        && (Min is not double lo || actual >= lo)
        && (Max is not double hi || actual <= hi)
        && (Value is not double v || System.Math.Abs(actual - v) <= (Tolerance ?? 0) + 1e-12);

    internal static string F(double x) => x.ToString("0.####", CultureInfo.InvariantCulture);
}

/// <summary>A checked expectation; <see cref="Actual"/> is null when the summary has no such metric.</summary>
public sealed record ExpectRow(string Metric, double? Actual, string Requirement, bool Passed);

public sealed record ExpectReport(IReadOnlyList<ExpectRow> Rows)
{
    public bool Passed => Rows.All(r => r.Passed);

    /// <summary>A plain-text table (no colour codes, fixed width) for logs and the one-line CLI error.</summary>
    public string RenderTable(int width = 100)
    {
        var table = new Table().Border(TableBorder.Ascii)
            .AddColumn("metric").AddColumn(new TableColumn("actual").RightAligned()).AddColumn("requirement").AddColumn("result");
        foreach (var r in Rows)
            table.AddRow(Markup.Escape(r.Metric), r.Actual is double a ? Expectation.F(a) : "missing",
                Markup.Escape(r.Requirement), r.Passed ? "pass" : "FAIL");
        var writer = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(writer),
        });
        console.Profile.Width = width;
        console.Write(table);
        return writer.ToString().Replace("\r\n", "\n");
    }

    /// <summary>Throws the one-line error the CLI prints (exit code non-zero) when an expectation failed;
    /// <paramref name="where"/> names the manifest or run.</summary>
    public void ThrowIfFailed(string where)
    {
        if (!Passed) throw new ExpectationFailedException($"{where}: {Rows.Count(r => !r.Passed)} expectation(s) failed: {FailureSummary()}", this);
    }

    /// <summary>One line naming every failed metric, for the exception the CLI prints.</summary>
    public string FailureSummary() => string.Join("; ", Rows.Where(r => !r.Passed)
        .Select(r => $"{r.Metric} = {(r.Actual is double a ? Expectation.F(a) : "missing")}, required {r.Requirement}"));
}

/// <summary>An expectation of the manifest did not hold; <see cref="Report"/> has the full table.</summary>
public sealed class ExpectationFailedException(string message, ExpectReport report) : StepDpoException(message)
{
    public ExpectReport Report { get; } = report;
}

/// <summary>The `expect` gate: checks summary metrics against the manifest's thresholds.</summary>
public static class ExpectGate
{
    public static ExpectReport Check(EvalSummary summary, IEnumerable<Expectation> expectations)
    {
        var rows = new List<ExpectRow>();
        foreach (var e in expectations)
        {
            e.Validate();
            double? actual = MetricPath.Resolve(summary, e.Metric);
            rows.Add(new ExpectRow(e.Metric, actual, e.Requirement, actual is double a && e.IsMetBy(a)));
        }
        return new ExpectReport(rows);
    }
}
