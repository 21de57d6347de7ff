using StepDpo.Core;
using StepDpo.Core.Graph;
using StepDpo.Stages.Implementations;

namespace StepDpo.Stages;

/// <summary>The stage graph with the implementations that have landed.</summary>
public static class Pipeline
{
    public static IReadOnlyDictionary<string, Stage> Implementations() => new Stage[]
    {
        new SftStage(), new SampleStage(), new VerifyStage(), new PairsStage(), new TrainStage(), new EvaluateStage(), new ReportStage(),
    }.ToDictionary(s => s.Name);

    public static StageGraph Graph(Workspace workspace) => new(StageCatalog.Create(Implementations()), workspace);
}
