namespace StepDpo.Stages.Report;

/// <summary>Writes a run's report directory: plots/*.png and report.md linking them by relative path,
/// so the directory can be moved or published as a whole.</summary>
public static class ReportRenderer
{
    public const string PlotDir = "plots";

    /// <summary>Draws every plot the data allows, then writes report.md (atomically) and returns its path.
    /// Images already in <paramref name="data"/> are kept after the generated ones.</summary>
    public static string Write(string outDir, ReportData data)
    {
        string plots = Path.Combine(outDir, PlotDir);
        Directory.CreateDirectory(plots);
        var images = new List<ReportImage>();
        if (ReportPlots.AccuracyByBenchmark(data.Summary, Path.Combine(plots, "accuracy.png")))
            images.Add(new ReportImage("Accuracy before and after, with 95% intervals", $"{PlotDir}/accuracy.png"));
        foreach (var benchmark in data.Summary.Results.Select(r => r.Benchmark).Distinct())
            foreach (bool bySubject in new[] { false, true })
            {
                string what = bySubject ? "subject" : "level";
                string file = $"{ReportPlots.Slug(benchmark)}_by_{what}.png";
                if (ReportPlots.AccuracyByGroup(data.Summary, benchmark, bySubject, Path.Combine(plots, file)))
                    images.Add(new ReportImage($"{benchmark}: accuracy by {what}", $"{PlotDir}/{file}"));
            }
        foreach (var run in data.Training)
            images.AddRange(ReportPlots.TrainingCurves(run.Metrics, run.Name, plots, PlotDir));
        images.AddRange(data.Images);

        string path = Path.Combine(outDir, "report.md");
        Core.Artifacts.AtomicFile.WriteAllText(path, ReportMarkdown.Render(data with { Images = images }));
        return path;
    }
}
