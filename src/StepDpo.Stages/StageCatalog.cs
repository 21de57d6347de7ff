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
/// With `rounds: N`, rounds 2..N are more instances of the same classes under their own names (sample@2, ...),
/// linked to the round before (<see cref="Links.Of"/>), before the one report of all rounds.
/// </summary>
public static class StageCatalog
{
    /// <summary>The stages of one round, under that round's names and links.</summary>
    static IEnumerable<Stage> Round(Links l) =>
    [
        new SampleStage(l.Samples, l), new VerifyStage(l.Verified, l), new PairsStage(l.Pairs, l), new TrainStage(l.Trained, l),
        new EvaluateStage(l.Evaluated, l),
    ];

    /// <summary>The stages of a run of <paramref name="rounds"/> rounds, in the order they run.</summary>
    public static IReadOnlyList<Stage> For(int rounds)
    {
        var links = Enumerable.Range(1, rounds).Select(Links.Of).ToList();
        return [new SftStage(), .. links.SelectMany(Round), new ReportStage(links)];
    }

    /// <summary>The stages of one round: the stage commands and build targets.</summary>
    public static IReadOnlyList<Stage> Stages { get; } = For(1);

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
