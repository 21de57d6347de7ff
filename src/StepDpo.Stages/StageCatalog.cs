using StepDpo.Core;
using StepDpo.Core.Graph;
using StepDpo.Core.Manifests;
using StepDpo.Stages.Implementations;

namespace StepDpo.Stages;

/// <summary>
/// The Step-DPO pipeline: sft (optional) -> sample -> verify -> pairs -> train -> evaluate -> report. This list is the
/// one place the stages are named: the graph runs it, the CLI makes a command of each, and build.sh's targets,
/// build/Build.proj and the MSBuild plugin's targets are checked against it (StageListTests). Each stage says itself what
/// it reads (its slice of the manifest) and which stages' artifacts (<see cref="Links"/>).
/// Rounds of Step-DPO would be more instances of the same classes, appended under their own names and linked to the
/// round before: e.g. new SampleStage("sample@2", new Links(StartModel: "train", Samples: "sample@2", ...)).
/// </summary>
public static class StageCatalog
{
    public static IReadOnlyList<Stage> Stages { get; } =
    [
        new SftStage(), new SampleStage(), new VerifyStage(), new PairsStage(), new TrainStage(), new EvaluateStage(), new ReportStage(),
    ];

    public static IReadOnlyList<string> Names { get; } = Stages.Select(s => s.Name).ToList();

    /// <summary>The summary.json of report.compare_with's evaluation when it is finished (its evaluate stage cached for
    /// its current manifest), else null; <paramref name="experiment"/> is the compared experiment (null: none).</summary>
    public static string? ComparedSummaryPath(Manifest m, Workspace ws, out string? experiment)
    {
        experiment = m.Report.CompareWith is { } other && other != m.Name ? other : null;
        if (experiment is null) return null;
        // Planned only up to evaluate, so two reports that compare with each other never recurse.
        var evaluate = Pipeline.Graph(ws).Plan(ManifestLoader.Load(experiment, ws), until: "evaluate").Stages
            .FirstOrDefault(s => s.Name == "evaluate");
        string? path = evaluate is { Status: StageStatus.Cached, Dir: { } dir } ? Path.Combine(dir, EvaluateStage.SummaryFile) : null;
        return path is not null && File.Exists(path) ? path : null;
    }
}
