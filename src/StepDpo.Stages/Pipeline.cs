using StepDpo.Core;
using StepDpo.Core.Graph;

namespace StepDpo.Stages;

/// <summary>The stage graph of a workspace: a manifest's stages are those of its rounds.</summary>
public static class Pipeline
{
    public static StageGraph Graph(Workspace workspace) => new(m => StageCatalog.For(m.Rounds), workspace);
}
