using StepDpo.Core;
using StepDpo.Core.Graph;

namespace StepDpo.Stages;

/// <summary>The stage graph of a workspace.</summary>
public static class Pipeline
{
    public static StageGraph Graph(Workspace workspace) => new(StageCatalog.Stages, workspace);
}
