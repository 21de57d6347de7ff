using StepDpo.Core;
using StepDpo.Core.Graph;

namespace StepDpo.Stages;

/// <summary>The stage graph with the implementations that have landed.</summary>
public static class Pipeline
{
    public static IReadOnlyDictionary<string, Stage> Implementations() => new Dictionary<string, Stage>
    {
    };

    public static StageGraph Graph(Workspace workspace) => new(StageCatalog.Create(Implementations()), workspace);
}
