using SkiaSharp;
using StepDpo.Stages.Report;
using StepDpo.Stages.Tests.Evaluation;

namespace StepDpo.Stages.Tests.Report;

public class ReportPlotsTests
{
    // Kept under the test output directory so a person can look at the last rendering.
    private static readonly string OutDir = Path.Combine(AppContext.BaseDirectory, "plots");

    internal static List<MetricsRow> DpoMetrics()
    {
        // A plausible Step-DPO run: loss falls from ln 2, the margin grows, reward accuracy climbs.
        var rows = new List<MetricsRow>();
        for (int step = 1; step <= 60; step++)
        {
            double t = step / 60.0;
            rows.Add(new MetricsRow(step, new Dictionary<string, double>
            {
                ["loss"] = Math.Log(2) * Math.Exp(-1.2 * t) + 0.02 * Math.Sin(step),
                ["rewards/margins"] = 1.5 * t + 0.05 * Math.Cos(step),
                ["rewards/accuracies"] = Math.Min(1, 0.5 + 0.45 * t + 0.03 * Math.Sin(3 * step)),
                ["learning_rate"] = 5e-7,
            }));
        }
        return rows;
    }

    [Fact]
    public void Embedded_font_is_a_real_sans_typeface()
    {
        var face = PlotFonts.Typeface();
        Assert.Equal("DejaVu Sans", face.FamilyName);
        Assert.True(face.GlyphCount > 1000);
        Assert.True(PlotFonts.Typeface(bold: true).FontStyle.Weight >= (int)SKFontStyleWeight.Bold);
    }

    [Fact]
    public void Text_is_drawn_into_the_png()
    {
        // Same empty plot with and without a title: if no font can be found the two PNGs are identical.
        string withTitle = Path.Combine(OutDir, "font_probe_title.png"), without = Path.Combine(OutDir, "font_probe_blank.png");
        var rows = new List<MetricsRow> { new(1, new Dictionary<string, double> { ["x"] = 1 }), new(2, new Dictionary<string, double> { ["x"] = 2 }) };
        Assert.True(ReportPlots.Line(rows, "x", "Title HgWM 0123", withTitle));
        Assert.True(ReportPlots.Line(rows, "x", "", without));
        int titlePixels = DarkPixels(withTitle, top: 0, bottom: 45) - DarkPixels(without, top: 0, bottom: 45);
        Assert.True(titlePixels > 250, $"title drew only {titlePixels} dark pixels"); // 495 with DejaVu Sans
        Assert.True(DarkPixels(without, top: 410, bottom: 450) > 800, "axis label and tick numbers missing"); // 1606 with text
    }

    [Fact]
    public void Training_curves_are_written_for_the_metrics_that_exist()
    {
        string dir = Path.Combine(OutDir, "curves");
        var images = ReportPlots.TrainingCurves(DpoMetrics(), "Step-DPO", dir, "plots");
        Assert.Equal(["plots/step_dpo_loss.png", "plots/step_dpo_reward_margins.png", "plots/step_dpo_reward_accuracy.png"],
            images.Select(i => i.RelativePath));
        foreach (var image in images) AssertPng(Path.Combine(dir, Path.GetFileName(image.RelativePath)));

        var sftOnly = DpoMetrics().Select(r => new MetricsRow(r.Step, new Dictionary<string, double> { ["loss"] = r.Values["loss"] })).ToList();
        Assert.Single(ReportPlots.TrainingCurves(sftOnly, "SFT", dir, "plots"));
    }

    [Fact]
    public void Accuracy_bars_cover_benchmarks_levels_and_subjects()
    {
        var summary = SummaryTests.Fixture();
        string bars = Path.Combine(OutDir, "accuracy.png"), levels = Path.Combine(OutDir, "math_levels.png"),
            subjects = Path.Combine(OutDir, "math_subjects.png");
        Assert.True(ReportPlots.AccuracyByBenchmark(summary, bars));
        Assert.True(ReportPlots.AccuracyByGroup(summary, "math", bySubject: false, levels));
        Assert.True(ReportPlots.AccuracyByGroup(summary, "math", bySubject: true, subjects));
        Assert.False(ReportPlots.AccuracyByGroup(summary, "gsm8k", bySubject: false, Path.Combine(OutDir, "none.png")));
        Assert.False(File.Exists(Path.Combine(OutDir, "none.png")));
        foreach (var p in new[] { bars, levels, subjects }) AssertPng(p);
    }

    private static void AssertPng(string path)
    {
        using var bitmap = SKBitmap.Decode(path);
        Assert.NotNull(bitmap);
        Assert.Equal((ReportPlots.Width, ReportPlots.Height), (bitmap.Width, bitmap.Height));
    }

    private static int DarkPixels(string path, int top, int bottom)
    {
        using var bitmap = SKBitmap.Decode(path);
        int dark = 0;
        for (int y = top; y < Math.Min(bottom, bitmap.Height); y++)
            for (int x = 0; x < bitmap.Width; x++)
                if (bitmap.GetPixel(x, y) is var c && c.Red + c.Green + c.Blue < 600) dark++;
        return dark;
    }
}
