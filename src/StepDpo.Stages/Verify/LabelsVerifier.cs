using StepDpo.Core;
using StepDpo.Core.Graph;
using StepDpo.Core.Manifests;

namespace StepDpo.Stages.Verify;

/// <summary>`labels`: the per-step labels that imported samples carry (data.source: samples); reads nothing else.</summary>
public sealed class LabelsVerifier : Verifier
{
    public override string Name => "labels";

    public sealed record Settings;

    public override object Read(ManifestReader<Manifest> m) => new Settings();

    public override Task RunAsync(VerifyJob job, object settings, CancellationToken ct) => job.EachAsync((s, _) =>
    {
        if (s.StepLabels is null) throw new StepDpoException($"verify.method 'labels': sample {s.Id} carries no step labels (import samples with data.source: samples)");
        for (int i = 0; i < s.StepLabels.Count; i++)
        {
            if (s.StepLabels[i] is null) return Task.FromResult(VerifyJob.Record(s, null, Name, "unknown_label"));
            if (s.StepLabels[i] == false) return Task.FromResult(VerifyJob.Record(s, i + 1, Name, "located"));
        }
        return Task.FromResult(VerifyJob.Record(s, null, Name, "no_step_labelled_wrong"));
    }, ct);
}
