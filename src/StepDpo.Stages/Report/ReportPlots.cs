using ScottPlot;
using StepDpo.Stages.Evaluation;

namespace StepDpo.Stages.Report;

/// <summary>A PNG written for the report, with the path report.md links to (relative to the report).</summary>
public sealed record ReportImage(string Title, string RelativePath);

/// <summary>PNG plots of a run: training curves and accuracy bars with 95% Wilson intervals.</summary>
public static class ReportPlots
{
    public const int Width = 800, Height = 450;
    private static readonly Color StartColor = Color.FromHex("#8c8c8c"), TrainedColor = Color.FromHex("#1f77b4");

    /// <summary>Line plot of one logged metric over optimizer steps; false (nothing written) when no row has it.</summary>
    public static bool Line(IReadOnlyList<MetricsRow> rows, string key, string title, string path,
        (double Y, string Meaning)? reference = null)
    {
        var (steps, values) = TrainingMetrics.Series(rows, key);
        if (steps.Length == 0) return false;
        var plot = NewPlot(title, "optimizer step", key);
        var line = plot.Add.ScatterLine(steps, values, TrainedColor);
        line.LineWidth = 2;
        if (steps.Length == 1) line.MarkerSize = 6;
        if (reference is var (y, meaning))
        {
            var h = plot.Add.HorizontalLine(y, 1, Colors.Gray, LinePattern.Dashed);
            h.LegendText = meaning;
            plot.ShowLegend(Alignment.LowerRight);
        }
        Save(plot, path);
        return true;
    }

    /// <summary>The training curves (loss, reward margins, reward accuracy) that exist in the rows, written as
    /// {run}_loss.png etc. into <paramref name="dir"/> and linked as <paramref name="relativeDir"/>/{file}.
    /// Dashed reference lines: margin 0 and accuracy 0.5, where a policy equal to the reference model sits.</summary>
    public static List<ReportImage> TrainingCurves(IReadOnlyList<MetricsRow> rows, string runName, string dir, string relativeDir)
    {
        var images = new List<ReportImage>();
        (string Key, string File, string Title, (double, string)? Reference)[] curves =
        [
            (TrainingMetrics.Loss, "loss", $"{runName}: training loss", null),
            (TrainingMetrics.RewardMargins, "reward_margins", $"{runName}: reward margin (chosen - rejected)", (0.0, "0 = no preference yet")),
            (TrainingMetrics.RewardAccuracies, "reward_accuracy", $"{runName}: reward accuracy (chosen > rejected)", (0.5, "0.5 = chance")),
        ];
        string slug = Slug(runName);
        foreach (var (key, file, title, reference) in curves)
        {
            string name = $"{slug}_{file}.png";
            if (Line(rows, key, title, Path.Combine(dir, name), reference))
                images.Add(new ReportImage(title, $"{relativeDir}/{name}"));
        }
        return images;
    }

    /// <summary>Accuracy of every model per benchmark, one bar per model, 95% Wilson intervals as error bars.</summary>
    public static bool AccuracyByBenchmark(EvalSummary summary, string path)
    {
        var benchmarks = summary.Results.Select(r => r.Benchmark).Distinct().ToList();
        if (benchmarks.Count == 0) return false;
        var series = Models(summary).Select(model => (model, benchmarks.Select(b => summary.Result(model, b) is { N: > 0 } r
            ? (double?)r.Accuracy : null).ToArray(),
            benchmarks.Select(b => summary.Result(model, b) is { N: > 0 } r ? (r.Ci95[0], r.Ci95[1]) : (0.0, 0.0)).ToArray())).ToList();
        GroupedBars("Accuracy before and after (95% Wilson interval)", "benchmark", benchmarks, series, path);
        return true;
    }

    /// <summary>Accuracy of the start model and of each round's trained model per benchmark, 95% Wilson intervals as error bars.</summary>
    public static bool AccuracyByRound(IReadOnlyList<RoundRow> rows, string path)
    {
        var benchmarks = rows.Select(r => r.Benchmark).Distinct().ToList();
        if (benchmarks.Count == 0) return false;
        var series = rows.Select(r => r.Model).Distinct().Select(model => (model,
            benchmarks.Select(b => rows.FirstOrDefault(r => r.Model == model && r.Benchmark == b) is { N: > 0 } r ? (double?)r.Accuracy : null).ToArray(),
            benchmarks.Select(b => rows.FirstOrDefault(r => r.Model == model && r.Benchmark == b) is { N: > 0 } r ? (r.Ci95[0], r.Ci95[1]) : (0.0, 0.0)).ToArray()))
            .ToList();
        GroupedBars("Accuracy per round (95% Wilson interval)", "benchmark", benchmarks, series, path);
        return true;
    }

    /// <summary>Accuracy per MATH level or subject of one benchmark (<paramref name="bySubject"/> picks which);
    /// false when the benchmark has no such groups.</summary>
    public static bool AccuracyByGroup(EvalSummary summary, string benchmark, bool bySubject, string path)
    {
        var results = summary.Results.Where(r => r.Benchmark == benchmark).ToList();
        IReadOnlyDictionary<string, GroupStat> Groups(BenchmarkResult r) => bySubject ? r.BySubject : r.ByLevel;
        var keys = results.SelectMany(r => Groups(r).Keys).Distinct().Order(StringComparer.Ordinal).ToList();
        if (keys.Count == 0) return false;
        var series = results.Select(r => (r.Model,
            keys.Select(k => Groups(r).TryGetValue(k, out var g) ? (double?)g.Accuracy : null).ToArray(),
            keys.Select(k => Groups(r).TryGetValue(k, out var g) ? EvalStats.Wilson(g.Correct, g.N) : (0.0, 0.0)).ToArray())).ToList();
        GroupedBars($"{benchmark}: accuracy by {(bySubject ? "subject" : "level")} (95% Wilson interval)",
            bySubject ? "subject" : "level", keys, series, path);
        return true;
    }

    private static void GroupedBars(string title, string xLabel, IReadOnlyList<string> categories,
        IReadOnlyList<(string Model, double?[] Values, (double Lo, double Hi)[] Intervals)> series, string path)
    {
        var plot = NewPlot(title, xLabel, "accuracy");
        double groupWidth = 0.8, barWidth = groupWidth / System.Math.Max(1, series.Count);
        var overlays = new List<(double X, double Value, double Lo, double Hi)>();
        for (int s = 0; s < series.Count; s++)
        {
            var (model, values, intervals) = series[s];
            var color = model == SummaryBuilder.StartModel ? StartColor
                : model == SummaryBuilder.TrainedModel ? TrainedColor : new ScottPlot.Palettes.Category10().GetColor(s + 2);
            var bars = new List<Bar>();
            for (int c = 0; c < categories.Count; c++)
            {
                if (values[c] is not double v) continue;
                double x = c - groupWidth / 2 + barWidth * (s + 0.5);
                bars.Add(new Bar { Position = x, Value = v, Size = barWidth * 0.9, FillColor = color, LineWidth = 0 });
                overlays.Add((x, v, intervals[c].Lo, intervals[c].Hi));
            }
            plot.Add.Bars(bars).LegendText = model;
        }
        // Drawn after every bar so no bar hides them. Wilson intervals are asymmetric, so the whiskers are
        // lines rather than Bar.Error; the value is written above its whisker.
        double cap = barWidth * 0.15;
        foreach (var (x, v, lo, hi) in overlays)
        {
            foreach (var (x1, y1, x2, y2) in new[] { (x, lo, x, hi), (x - cap, lo, x + cap, lo), (x - cap, hi, x + cap, hi) })
            {
                var whisker = plot.Add.Line(x1, y1, x2, y2);
                whisker.Color = Colors.Black;
                whisker.LineWidth = 1.5f;
            }
            var label = plot.Add.Text($"{v * 100:0.0}%", x, hi + 0.015);
            label.LabelAlignment = Alignment.LowerCenter;
            label.LabelFontColor = Colors.Black;
            label.LabelFontSize = 12;
            label.LabelBold = true;
            label.LabelFontName = PlotFonts.Family;
        }
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            Enumerable.Range(0, categories.Count).Select(i => (double)i).ToArray(), categories.ToArray());
        plot.Axes.Bottom.MajorTickStyle.Length = 0;
        plot.Axes.SetLimits(-0.6, categories.Count - 0.4, 0, 1.1);
        plot.ShowLegend(Edge.Right); // outside the data area: never on top of a bar or its label
        Save(plot, path);
    }

    private static IEnumerable<string> Models(EvalSummary summary) => summary.Results.Select(r => r.Model).Distinct();

    private static Plot NewPlot(string title, string xLabel, string yLabel)
    {
        var plot = new Plot();
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        PlotFonts.Apply(plot);
        return plot;
    }

    private static void Save(Plot plot, string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        plot.SavePng(path, Width, Height);
    }

    internal static string Slug(string name) =>
        new string(name.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '_').ToArray()).Trim('_');
}
