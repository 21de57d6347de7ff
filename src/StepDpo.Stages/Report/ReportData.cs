using StepDpo.Stages.Evaluation;

namespace StepDpo.Stages.Report;

/// <summary>How many items survived each stage of the Step-DPO data pipeline (paper section 3.2).</summary>
/// <param name="Problems">training problems sampled from</param>
/// <param name="Samples">solutions sampled from the start model</param>
/// <param name="Wrong">samples whose final answer is wrong</param>
/// <param name="Located">wrong samples whose first wrong step was found</param>
/// <param name="Rectified">located errors for which a sampled continuation reached the right answer</param>
/// <param name="Pairs">(prefix, chosen step, rejected step) preference pairs after dropping duplicates</param>
public sealed record PipelineFunnel(int Problems, int Samples, int Wrong, int Located, int Rectified, int Pairs);

/// <summary>One training stage of the run (SFT, Step-DPO): its settings, its logged metrics, its duration.</summary>
public sealed record TrainingRun(
    string Name,
    IReadOnlyList<KeyValuePair<string, string>> Hyperparameters,
    IReadOnlyList<MetricsRow> Metrics,
    TimeSpan? Duration = null);

/// <summary>Another experiment's evaluation shown beside this one (report.compare_with), e.g. plain DPO beside Step-DPO
/// as the paper's Table 3; Summary is null while that experiment has no finished evaluation.</summary>
public sealed record ComparedRun(string Experiment, EvalSummary? Summary);

/// <summary>Everything report.md shows; plain data, so the page can be rendered (and tested) without a run.</summary>
public sealed record ReportData(
    string Experiment,
    EvalSummary Summary,
    PipelineFunnel? Funnel,
    IReadOnlyList<TrainingRun> Training,
    IReadOnlyList<ReportImage> Images,
    string? ManifestYaml = null,
    ExpectReport? Expectations = null,
    DateTimeOffset? Finished = null,
    ComparedRun? Compared = null,
    Locate.LocateFile? Locator = null,
    RoundsReport? Rounds = null);
