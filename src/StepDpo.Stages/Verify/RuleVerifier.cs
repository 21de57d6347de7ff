using StepDpo.Core;
using StepDpo.Core.Graph;
using StepDpo.Core.Manifests;
using StepDpo.Stages.Pool;

namespace StepDpo.Stages.Verify;

/// <summary>`rule`: the synthetic world's exact step checker, on the problems sample drew.</summary>
public sealed class RuleVerifier : Verifier
{
    public override string Name => "rule";

    public sealed record Settings(DataSlice Pool);

    public override object Read(ManifestReader<Manifest> m) => new Settings(Slices.Pool(m));

    public override Task RunAsync(VerifyJob job, object settings, CancellationToken ct)
    {
        var pool = ProblemPool.Sampling(job.Seed, ((Settings)settings).Pool, job.Context.Workspace);
        if (!pool.IsSynthetic) throw new StepDpoException("verify.method 'rule' needs a problem world with a step checker (data.source: synthetic)");
        return job.EachAsync((s, _) =>
        {
            int? k = pool.FirstWrongStep(s.ProblemId, s.Steps);
            return Task.FromResult(VerifyJob.Record(s, k, Name, k is null ? "all_steps_pass_rule" : "located"));
        }, ct);
    }
}
